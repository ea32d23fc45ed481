package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const unitFile = "../../contrib/systemd/gomp@.service"

// TestSystemdUnitVerifies runs systemd-analyze verify on
// contrib/systemd/gomp@.service, with ExecStart pointing at an executable
// that exists here; any complaint fails the test.
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile(unitFile)
	require.NoError(t, err)
	require.Contains(t, string(unit), "ExecStart=/usr/local/bin/gomp attach --node %i")
	require.Contains(t, string(unit), "ExecStop=/usr/local/bin/gomp detach %i")
	self, err := os.Executable()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "gomp@lab.service")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/gomp", self)), 0o644))
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify complains")
}

// TestSystemdUnitContract checks what the unit promises against what gomp
// does: Type=notify (attach sends READY=1), restart on failure, and the
// settings the README documents.
func TestSystemdUnitContract(t *testing.T) {
	unit, err := os.ReadFile(unitFile)
	require.NoError(t, err)
	for _, line := range []string{"Type=notify", "Restart=on-failure", "After=network-online.target",
		"Wants=network-online.target", "WantedBy=multi-user.target", "Environment=GOMP_STATE_DIR=/var/lib/gomp"} {
		require.Contains(t, string(unit), "\n"+line+"\n")
	}
	// The flags the unit uses exist.
	cmd := newAttachCmd(&globalOpts{})
	require.NotNil(t, cmd.Flags().Lookup("node"))
}
