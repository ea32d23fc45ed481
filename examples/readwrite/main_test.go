package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/stretchr/testify/require"
)

// lab returns the lab's second portal and target; it skips the test unless
// GOMP_LAB=1 says the tgtd lab of scripts/lab.sh is up.
func lab(t *testing.T) (portal, target string) {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: `make lab-up`, then `set -a; . /run/gomp-lab/env; GOMP_LAB=1 go test ./examples/...`")
	}
	portal, target = os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	if portal == "" || target == "" {
		t.Fatal("lab env GOMP_LAB_PORTAL2 or GOMP_LAB_TARGET is not set")
	}
	return portal, target
}

// labOffset is where this test writes: no other lab test writes in
// [600 MiB, 601 MiB) of the shared LUN.
const labOffset = "629145600"

func TestRunVerifiesOnLab(t *testing.T) {
	portal, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"-portal", portal, "-target", target, "-lun", "1",
		"-offset", labOffset, "-length", "262144"}, &out)
	t.Logf("output:\n%s", out.String())
	require.NoError(t, err)
	require.Equal(t, `wrote 262144 bytes at offset 629145600 of LUN 1
read back 262144 bytes through io.SectionReader: the data written
`, out.String())
}

func TestRunRefusesUnalignedOffset(t *testing.T) {
	portal, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"-portal", portal, "-target", target, "-offset", "1006633000", "-length", "4096"}, &bytes.Buffer{})
	require.ErrorIs(t, err, iscsi.ErrUnaligned)
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-lun", "65536"}, {"-length", "1MiB"}} {
		require.Error(t, run(context.Background(), args, &bytes.Buffer{}), "args %q", args)
	}
}
