package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestListenUnixMode0600WithoutUmask: the socket is 0600 even under umask
// 0, and listenUnix leaves the process umask as it found it.
func TestListenUnixMode0600WithoutUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := listenUnix(path, nil)
	require.NoError(t, err)
	require.Equal(t, 0, syscall.Umask(0), "umask untouched")
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the private bind directory is gone")
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	c.Close()
	require.NoError(t, ln.Close())
	_, err = os.Lstat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "Close removes the socket it made")
}

// TestListenUnixRemovesOnlyStaleSockets: a regular file, a directory, a
// symbolic link or a socket someone answers on stays where it is; only a
// socket nobody answers is replaced.
func TestListenUnixRemovesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("precious"), 0o644))
	sub := filepath.Join(dir, "dir")
	require.NoError(t, os.Mkdir(sub, 0o755))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))
	for _, p := range []string{file, sub, link} {
		_, err := listenUnix(p, nil)
		require.ErrorContains(t, err, "not a socket", p)
	}
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "precious", string(got))
	require.DirExists(t, sub)

	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	require.NoError(t, err)
	defer ln.Close()
	_, err = listenUnix(live, nil)
	require.ErrorIs(t, err, errInUse)

	stale := filepath.Join(dir, "stale.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	require.NoError(t, err)
	old.SetUnlinkOnClose(false)
	old.Close()
	ln2, err := listenUnix(stale, nil)
	require.NoError(t, err, "a socket nobody answers is stale")
	ln2.Close()
}

// TestListenUnixPathTooLong: a path bind would refuse is a clear error.
func TestListenUnixPathTooLong(t *testing.T) {
	_, err := listenUnix("/tmp/"+strings.Repeat("x", 120), nil)
	require.ErrorContains(t, err, "longer than 107 bytes")
}

func TestPeerAllowed(t *testing.T) {
	require.True(t, peerAllowed(0, 1000), "root")
	require.True(t, peerAllowed(1000, 1000), "the owner")
	require.False(t, peerAllowed(1001, 1000), "another user")
	require.True(t, peerAllowed(0, 0))
	require.False(t, peerAllowed(65534, 0))
}

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
	var st []controlStatus
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Len(t, st, 1)
}

// TestControlDirForced: an existing control directory is made 0700 and
// root's (gomp runs as root here); a symbolic link in its place is refused.
func TestControlDirForced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ctl")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(dir, 65534, 65534))
	}
	require.NoError(t, prepareControlDir(dir))
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	if os.Geteuid() == 0 {
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, uint32(0), st.Uid)
		require.Equal(t, uint32(0), st.Gid)
	}
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(dir, link))
	require.ErrorContains(t, prepareControlDir(link), "not a directory")
}

// TestControlClientJSONBounded: an answer larger than the bound is an
// error, not an unbounded allocation.
func TestControlClientJSONBounded(t *testing.T) {
	var v any
	big := `"` + strings.Repeat("a", maxControlResponse) + `"`
	require.ErrorContains(t, decodeControlJSON(strings.NewReader(big), &v), "larger than")
	var st controlStatus
	require.NoError(t, decodeControlJSON(strings.NewReader(`{"pid":7,"started":"2026-01-02T03:04:05Z"}`), &st))
	require.Equal(t, 7, st.PID)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), st.Started.UTC())
}

// FuzzControlClientJSON: whatever a control socket answers, decoding
// returns (no panic), and what decodes re-encodes and decodes to the same
// value.
func FuzzControlClientJSON(f *testing.F) {
	f.Add([]byte(`{"device":{"name":"mem","wwid":"36001405"},"exports":{"uri":"nbd+unix:///mem?socket=/x"},"pid":1}`))
	f.Add([]byte(`[{"pid":1}]`))
	f.Add([]byte(`{"device":{"groups":[{"paths":[{"portal":"a"}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var st controlStatus
		if decodeControlJSON(bytes.NewReader(data), &st) != nil {
			return
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("re-encoding %q: %v", data, err)
		}
		var again controlStatus
		if err := decodeControlJSON(bytes.NewReader(b), &again); err != nil {
			t.Fatalf("decoding our own %s: %v", b, err)
		}
		b2, _ := json.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed %s to %s", b, b2)
		}
	})
}
