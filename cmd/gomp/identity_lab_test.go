package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A target bound to one initiator name (an array's host mapping) is
// refused to another name and served to gomp under the right one, from
// --initiator-name or from the initiator name file; discovery lists it
// to the right name only.
func TestLabInitiatorNameACL(t *testing.T) {
	l := newTgtLab(t, 1)
	const (
		allowed = "iqn.1993-08.org.debian:01:acl-host"
		other   = "iqn.1993-08.org.debian:01:other-host"
		target  = "iqn.2026-11.dev.gomp:acl"
	)
	l.NewTarget(1, target, allowed)
	l.AddLUN(1, 1, 64<<20)
	portal := l.Portals[0]
	t.Setenv(envStateDir, t.TempDir())
	etc := filepath.Join(t.TempDir(), "initiatorname.iscsi")
	t.Setenv(envInitiatorNameFile, etc)

	code, _, stderr := runCLI(t, "ls", "--target", target, "--portal", portal, "--initiator-name", other)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "login "+portal+" "+target)
	require.Contains(t, stderr, "--initiator-name")
	code, out, stderr := runCLI(t, "discover", "--initiator-name", other, portal)
	require.Equal(t, exitOK, code, stderr)
	require.NotContains(t, out, target)

	code, out, stderr = runCLI(t, "ls", "--target", target, "--portal", portal, "--initiator-name", allowed)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "Initiator: "+allowed)
	require.Contains(t, out, "67108864 bytes")

	// Without the flag: a generated name is refused too ...
	code, _, _ = runCLI(t, "ls", "--target", target, "--portal", portal)
	require.Equal(t, exitFailure, code)
	// ... and open-iscsi's file gives the host its mapped name.
	require.NoError(t, os.WriteFile(etc, []byte("InitiatorName="+allowed+"\nInitiatorAlias=acl-alias\n"), 0o644))
	code, out, stderr = runCLI(t, "discover", portal)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, strings.Split(strings.TrimSpace(out), "\n"), portal+",1 "+target)
	code, out, stderr = runCLI(t, "ls", "--target", target, "--portal", portal)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "Initiator: "+allowed)
}
