package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func corpus(dir, name string) string {
	return filepath.Join("..", "..", "multipath", "conf", "testdata", dir, name)
}

func TestConfigCheckExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--config", corpus("real", "fedora-anaconda.conf")}, exitOK, "0 error(s), 0 warning(s)"},
		{[]string{"--config", corpus("real", "tegile-oracle.conf")}, exitOK, `tegile-oracle.conf:24: warning: unknown keyword "mutipaths"`},
		{[]string{"--strict", "--config", corpus("real", "tegile-oracle.conf")}, exitFailure, "0 error(s), 16 warning(s)"},
		{[]string{"--strict", "--config", corpus("real", "fedora-anaconda.conf")}, exitOK, "0 error(s), 0 warning(s)"},
		{[]string{"--config", corpus("warn", "stray-brace.conf")}, exitOK, `stray-brace.conf:5: warning: unmatched "}"`},
		{[]string{"--config", corpus("error", "no-path-retry-banana.conf")}, exitFailure, `no-path-retry-banana.conf:2: error: no_path_retry: invalid no_path_retry "banana"`},
		{[]string{"--config", corpus("error", "bad-values.conf")}, exitFailure, "8 error(s), 1 warning(s)"},
	}
	for _, c := range cases {
		code, out, stderr := runCLI(t, append([]string{"config", "check"}, c.args...)...)
		require.Equal(t, c.code, code, "%v: %s%s", c.args, out, stderr)
		require.Contains(t, out, c.out, c.args)
	}
	code, _, stderr := runCLI(t, "config", "check", "--config", corpus("real", "missing.conf"))
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "no such file")
}

func TestConfigShow(t *testing.T) {
	file := corpus("real", "rhel6-example-uncommented-megacoder.conf")
	code, out, stderr := runCLI(t, "config", "show", "--config", file, "--wwid", "3600508b4000156d700012000000b0000", "--origin")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "multipaths {\n\tmultipath {\n\t\twwid \"3600508b4000156d700012000000b0000\"\n")
	require.Regexp(t, `alias "yellow" +# .*megacoder.conf:64 multipaths`, out)
	require.Regexp(t, `failback "manual" +# .*megacoder.conf:68 multipaths`, out)
	require.Regexp(t, `polling_interval 10 +# .*megacoder.conf:34 defaults`, out)
	require.Regexp(t, `no_path_retry 5 +# .*multipaths`, out)
	require.Regexp(t, `path_selector "round-robin 0" +# .*megacoder.conf:67 multipaths`, out)
	require.Regexp(t, `prio "alua" +# .*megacoder.conf:37 defaults`, out)

	// vendor and product are regular expressions: "(C)" is a group, so
	// the entry for "HSV110 (C)COMPAQ" matches "HSV110 CCOMPAQ", as in
	// multipath-tools, and not itself.
	code, out, stderr = runCLI(t, "config", "show", "--config", file, "--vendor", "COMPAQ  ", "--product", "HSV110 (C)COMPAQ")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "\t\tno_path_retry \"fail\"\n", "defaults only")
	code, out, stderr = runCLI(t, "config", "show", "--config", file, "--vendor", "COMPAQ  ", "--product", "HSV110 CCOMPAQ")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "\t\tno_path_retry \"queue\"\n")
	require.Contains(t, out, "\t\tfailback 15\n")
	require.NotContains(t, out, "#  ", "no origins without --origin")

	code, out, stderr = runCLI(t, "config", "show", "--config", file)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "defaults {\n\tpolling_interval 10\n")
	require.Contains(t, out, "\t# devnode \"^hd[a-z]\"")
	require.Contains(t, out, "multipaths {\n")

	code, _, _ = runCLI(t, "config", "show", "--config", file, "--vendor", "X")
	require.Equal(t, exitUsage, code)
	code, _, stderr = runCLI(t, "config", "show", "--config", corpus("error", "grouping-sideways.conf"))
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "grouping-sideways.conf:5: path_grouping_policy")
}

// gomp attach refuses a configuration with errors before it dials anything.
func TestAttachRefusesConfigWithErrors(t *testing.T) {
	code, _, stderr := runCLI(t, "attach", "--target", "iqn.2001-04.com.example:x", "--portal", "127.0.0.1:1",
		"--listen", "unix:"+filepath.Join(t.TempDir(), "s"), "--config", corpus("error", "negative-interval.conf"))
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, `negative-interval.conf:2: polling_interval: invalid value "-5"`)
	require.Contains(t, stderr, `negative-interval.conf:3: checker_timeout`)
}
