package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// race is a pass as go test -json writes it: a pass, a fail, a skip for a
// missing peer, a by-design skip, a test that runs in the other pass, and
// a package whose binary panicked outside any test.
const race = `{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0.1}
{"Action":"run","Package":"m/a","Test":"TestBad"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"    a_test.go:9: boom\n"}
{"Action":"fail","Package":"m/a","Test":"TestBad","Elapsed":0.1}
{"Action":"run","Package":"m/a","Test":"TestPeer"}
{"Action":"output","Package":"m/a","Test":"TestPeer","Output":"=== RUN   TestPeer\n"}
{"Action":"output","Package":"m/a","Test":"TestPeer","Output":"    a_test.go:20: nbdinfo not installed\n"}
{"Action":"output","Package":"m/a","Test":"TestPeer","Output":"--- SKIP: TestPeer (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestPeer","Elapsed":0}
{"Action":"output","Package":"m/a","Test":"TestKernel","Output":"    k_test.go:3: no nbd module: modprobe failed\n"}
{"Action":"skip","Package":"m/a","Test":"TestKernel","Elapsed":0}
{"Action":"output","Package":"m/a","Test":"TestAllocs","Output":"    x_test.go:3: the race detector makes sync.Pool drop items\n"}
{"Action":"skip","Package":"m/a","Test":"TestAllocs","Elapsed":0}
{"Action":"fail","Package":"m/a","Elapsed":1}
not json: a stray line
{"Action":"output","Package":"m/b","Output":"panic: oops\n"}
{"Action":"fail","Package":"m/b","Elapsed":2}
`

const allocs = `{"Action":"run","Package":"m/a","Test":"TestAllocs"}
{"Action":"pass","Package":"m/a","Test":"TestAllocs","Elapsed":0.1}
{"Action":"pass","Package":"m/a","Elapsed":0.2}
`

func results(t *testing.T) []result {
	t.Helper()
	a, err := collect("race", strings.NewReader(race))
	require.NoError(t, err)
	b, err := collect("allocs", strings.NewReader(allocs))
	require.NoError(t, err)
	return append(a, b...)
}

func TestSummaryCountsAndSorts(t *testing.T) {
	s := summarize(results(t))
	require.Equal(t, 2, s.passed)
	require.Equal(t, 2, s.failed, "TestBad and package m/b (m/a's own fail is its test's)")
	require.Len(t, s.missing, 1)
	require.Equal(t, "TestPeer", s.missing[0].Test)
	require.Equal(t, "nbdinfo not installed", s.missing[0].Reason)
	require.Len(t, s.design, 2)
	require.False(t, s.ok(true))
	require.False(t, s.ok(false), "a failed test fails the run in any mode")

	var out bytes.Buffer
	s.print(&out, true)
	require.Contains(t, out.String(), "m/a TestKernel [race pass]: no nbd module: modprobe failed -- this host kernel has no nbd module")
	require.Contains(t, out.String(), "m/a TestAllocs [race pass]: the race detector makes sync.Pool drop items -- ran in the allocs pass")
	require.Contains(t, out.String(), "m/a TestPeer [race pass]: nbdinfo not installed\n")
	require.True(t, strings.HasSuffix(out.String(), "\ntests: 2 passed, 2 failed, 3 skipped\n"), out.String())
}

func TestSummaryStrictOnlyForMissing(t *testing.T) {
	var kept []result
	for _, r := range results(t) {
		if r.Action != "fail" {
			kept = append(kept, r)
		}
	}
	s := summarize(kept)
	require.False(t, s.ok(true), "a missing peer fails a strict run")
	require.True(t, s.ok(false))
}

func TestStreamPrintsFailuresOnly(t *testing.T) {
	var out bytes.Buffer
	st := newStreamer(&out)
	require.NoError(t, scan(strings.NewReader(race+allocs), st.event))
	got := out.String()
	require.Contains(t, got, "    a_test.go:9: boom\n")
	require.Contains(t, got, "panic: oops\n")
	require.Contains(t, got, "ok  \tm/a\t0.200s\n")
	require.NotContains(t, got, "nbdinfo not installed", "a skipped test's output is the report's business")

	out.Reset()
	require.NoError(t, scan(strings.NewReader(`{"Action":"pass","Package":"m/c","Elapsed":0.01}`+"\n"), st.event))
	require.Equal(t, "ok  \tm/c\t0.010s [no tests to run]\n", out.String())
}
