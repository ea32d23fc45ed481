package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lab returns the lab's first portal and target; it skips the test unless
// GOMP_LAB=1 says the tgtd lab of scripts/lab.sh is up.
func lab(t *testing.T) (portal, target string) {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: `make lab-up`, then `set -a; . /run/gomp-lab/env; GOMP_LAB=1 go test ./examples/...`")
	}
	portal, target = os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_TARGET")
	if portal == "" || target == "" {
		t.Fatal("lab env GOMP_LAB_PORTAL1 or GOMP_LAB_TARGET is not set")
	}
	return portal, target
}

func TestRunListsLabLUN(t *testing.T) {
	portal, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-portal", portal}, &out))
	t.Logf("output:\n%s", out.String())

	// The lab target, its portal, then its LUNs, LUN 1 being a disk with
	// a WWID and a size.
	want := `(?m)^target ` + regexp.QuoteMeta(target) + `\n` +
		`(  portal \S+,\d+\n)+` +
		`(  LUN \d+ .*\n)*` +
		`  LUN 1  direct access block device  vendor "[^"]*"  product "[^"]*"  wwid 3[0-9a-f]+  size [1-9]\d* bytes \(\d+ blocks of \d+\)\n`
	require.Regexp(t, want, out.String())
}

func TestRunRejectsBadFlags(t *testing.T) {
	require.Error(t, run(context.Background(), []string{"-bogus"}, io.Discard))
}
