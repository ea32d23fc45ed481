package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"testing"
	"time"

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
const labOffset = "600MiB"

func TestRunVerifiesOnLab(t *testing.T) {
	portal, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"-portal", portal, "-target", target, "-lun", "1",
		"-offset", labOffset, "-length", "256KiB"}, &out)
	t.Logf("output:\n%s", out.String())
	require.NoError(t, err)
	require.Regexp(t, `^wrote 262144 bytes at offset 629145600 of LUN 1 \(\d+ blocks of \d+ bytes\)
read back 262144 bytes through io.SectionReader: sha256 [0-9a-f]{64}
verified: the data read back is the data written
$`, out.String())
}

func TestRunRefusesUnalignedOffset(t *testing.T) {
	portal, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"-portal", portal, "-target", target, "-offset", "1006633000", "-length", "4KiB"}, &bytes.Buffer{})
	require.ErrorContains(t, err, "is not whole")
}

func TestMakePattern(t *testing.T) {
	p := makePattern(1<<20, 1024, 512, 0xabcd)
	require.Len(t, p, 1024)
	require.EqualValues(t, 1<<20, binary.BigEndian.Uint64(p[0:]))
	require.EqualValues(t, 1<<20+512, binary.BigEndian.Uint64(p[512:]))
	require.EqualValues(t, 0xabcd, binary.BigEndian.Uint64(p[520:]))
	require.NotEqual(t, p[16:512], p[528:1024], "blocks differ past their header")
	require.NotEqual(t, p, makePattern(1<<20, 1024, 512, 0xabce), "runs differ")
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "64KiB": 64 << 10, "960MiB": 960 << 20, "1GiB": 1 << 30} {
		var b byteSize
		require.NoError(t, b.Set(in), in)
		require.EqualValues(t, want, b, in)
	}
	for _, in := range []string{"", "-1", "1.5MiB", "12kb", "99999999999GiB"} {
		var b byteSize
		require.Error(t, b.Set(in), in)
	}
}
