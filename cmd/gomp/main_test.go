package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runCLI runs one command line in-process and returns exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	code := exitOK
	if err := root.ExecuteContext(context.Background()); err != nil {
		code = exitFailure
		var ue *usageError
		if asUsage(err, &ue) {
			code = exitUsage
		}
		errb.WriteString("gomp: " + err.Error() + cliHint(err) + "\n")
	}
	return code, out.String(), errb.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"discover"},
		{"ls"},
		{"ls", "--target", "iqn.x"},
		{"ls", "--target", "iqn.x", "--portal", "p", "extra"},
		{"discover", "--no-such-flag", "p"},
		{"discover", "--chap-secret-file", "/nonexistent", "127.0.0.1"},
		{"version", "x"},
	} {
		code, _, stderr := runCLI(t, args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "gomp: ")
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	require.Equal(t, exitOK, code)
	require.Equal(t, "gomp "+version+"\n", out)
	code, out, _ = runCLI(t, "completion", "bash")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "__start_gomp")
}

func TestRunExitCodes(t *testing.T) {
	require.Equal(t, exitUsage, run(context.Background(), []string{"ls"}))
	require.Equal(t, exitOK, run(context.Background(), []string{"version"}))
}

func lab(t *testing.T) {
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab (make test)")
	}
}

func TestLabDiscoverFormat(t *testing.T) {
	lab(t)
	p1, target := os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_TARGET")
	code, out, stderr := runCLI(t, "discover", p1)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, strings.Split(strings.TrimSpace(out), "\n"), p1+",1 "+target)
}

func TestLabLsAndCHAPErrors(t *testing.T) {
	lab(t)
	p1, p2 := os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2")
	code, out, stderr := runCLI(t, "ls", "--target", os.Getenv("GOMP_LAB_TARGET"), "--portal", p1, "--portal", p2)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "LUN 1  wwid 3")
	require.Contains(t, out, "paths "+p1+", "+p2)
	require.Contains(t, out, "1073741824 bytes")

	chapTarget := os.Getenv("GOMP_LAB_CHAP_TARGET")
	code, _, stderr = runCLI(t, "ls", "--target", chapTarget, "--portal", p1)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "login "+p1+" "+chapTarget+": authentication failed")
	require.Contains(t, stderr, "pass --chap-user")

	wrong := t.TempDir() + "/secret"
	require.NoError(t, os.WriteFile(wrong, []byte("definitely-wrong"), 0o600))
	code, _, stderr = runCLI(t, "ls", "--target", chapTarget, "--portal", p1,
		"--chap-user", os.Getenv("GOMP_LAB_CHAP_USER"), "--chap-secret-file", wrong)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "authentication failed")
	require.NotContains(t, stderr, "definitely-wrong")

	code, _, stderr = runCLI(t, "ls", "--target", os.Getenv("GOMP_LAB_TARGET"), "--portal", "127.0.0.1:1")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "127.0.0.1:1")
	require.Contains(t, stderr, "connection refused")

	code, out, stderr = runCLI(t, "ls", "--target", chapTarget, "--portal", p2,
		"--chap-user", os.Getenv("GOMP_LAB_CHAP_USER"), "--chap-secret-file", os.Getenv("GOMP_LAB_CHAP_SECRET_FILE"))
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "67108864 bytes")
}

// With no device attached, status and stats print an empty JSON list (not
// null) and exit 0, so that scripts can always iterate over the answer.
func TestNoDeviceJSONIsEmptyList(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range []string{"status", "stats"} {
		code, stdout, stderr := runCLI(t, cmd, "--json", "--control-dir", dir)
		require.Equal(t, exitOK, code, "%s: %s", cmd, stderr)
		require.Equal(t, "[]\n", stdout, cmd)
	}
}
