package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"
)

// TestControlSocketRefusesOtherUsers: even when an administrator opens the
// control directory and socket to everyone, a client of another user is
// dropped (SO_PEERCRED) and gets no status; root is served. Runs as root
// (to start a client as nobody).
func TestControlSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	_, dir := memDevice(t)
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir, "mem.sock"), 0o666))
	pub, err := os.MkdirTemp("/tmp", "gomp-peercred-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(pub) })
	require.NoError(t, os.Chmod(pub, 0o755))
	bin := filepath.Join(pub, "gomp")
	self, err := os.Executable()
	require.NoError(t, err)
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, data, 0o755))
	// Every directory above dir must be searchable by nobody.
	for d := filepath.Dir(dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		require.NoError(t, os.Chmod(d, fi.Mode().Perm()|0o011))
	}

	cmd := exec.Command(bin, "status", "--json", "--control-dir", dir, "mem")
	cmd.Env = append(os.Environ(), envAsGomp+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.Error(t, cmd.Run(), "nobody must get no answer: %s", out.String())
	require.NotContains(t, out.String(), `"device"`)

	code, stdout, stderr := runCLI(t, "status", "--json", "--control-dir", dir, "mem")
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Len(t, st, 1)
}
