package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"
	"github.com/gomp-dev/gomp/internal/chaostest"
	"github.com/gomp-dev/gomp/nbd"
)

// The tests of this file run a tgtd of their own, one test at a time, on a
// control port and loopback portals no other test uses.
const (
	persistLabTarget = "iqn.2026-11.dev.gomp:persist"
	persistHostA     = "iqn.2026-11.dev.gomp:persist-host-a"
	persistHostB     = "iqn.2026-11.dev.gomp:persist-host-b"
)

var persistLabHosts = []string{"127.24.1.1", "127.24.1.2", "127.24.1.3", "127.24.1.4"}

// persistHost is one gomp attach with an initiator name of its own: a
// "host" of the cluster, its device exported on a unix NBD socket.
type persistHost struct {
	t    *testing.T
	ctl  string // control directory
	dev  readyDevice
	errb *syncBuffer // its log
}

func startPersistHost(t *testing.T, name string, portals []string, extra ...string) *persistHost {
	t.Helper()
	dir := t.TempDir()
	h := &persistHost{t: t, ctl: filepath.Join(dir, "ctl")}
	args := []string{"attach", "--target", persistLabTarget, "--lun", "1", "--initiator-name", name,
		"--listen", "unix:" + filepath.Join(dir, "dev.nbd"), "--control-dir", h.ctl}
	for _, p := range portals {
		args = append(args, "--portal", p)
	}
	out, errb, done := runBackground(t, append(args, extra...)...)
	h.errb = errb
	h.dev = waitReady(t, out, errb, done, 1)[0]
	return h
}

// persist runs gomp persist ARGS on the host's device.
func (h *persistHost) persist(args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	return runCLI(h.t, append(append([]string{"persist"}, args...), "--control-dir", h.ctl, h.dev.name)...)
}

// mustPersist runs gomp persist and requires success.
func (h *persistHost) mustPersist(args ...string) string {
	h.t.Helper()
	code, out, stderr := h.persist(args...)
	require.Equal(h.t, exitOK, code, "gomp persist %v: %s", args, stderr)
	return out
}

func (h *persistHost) status() control.Status {
	h.t.Helper()
	sts := statusJSON(h.t, h.ctl)
	require.Len(h.t, sts, 1)
	return sts[0]
}

// requirePathsUp: every path of the host is active (none failed) and,
// per want, registered or not.
func (h *persistHost) requirePathsUp(registered bool) {
	h.t.Helper()
	st := h.status()
	require.NotNil(h.t, st.Device.Reservation)
	require.Equal(h.t, registered, st.Device.Reservation.Registered)
	for _, g := range st.Device.Groups {
		for _, p := range g.Paths {
			require.Equal(h.t, "active", p.State, "%s: a reservation conflict fails no path", p.Portal)
			require.Equal(h.t, registered, p.Registered, p.Portal)
		}
	}
}

func (h *persistHost) dial() *chaostest.Client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := chaostest.Dial(ctx, h.dev.socket, h.dev.name)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { c.Close() })
	return c
}

// requireNBDError: the NBD request failed with EIO, the only errno NBD
// has for it (gomp's log says why).
func requireNBDError(t *testing.T, err error) {
	t.Helper()
	var ne *nbd.Error
	require.ErrorAs(t, err, &ne)
	require.Equal(t, nbd.ErrnoIO, ne.Errno)
}

func newPersistLab(t *testing.T) *tgtLab {
	l := newTgtLabOn(t, persistLabHosts)
	l.NewTarget(1, persistLabTarget)
	l.AddLUN(1, 1, 16<<20)
	t.Setenv(envStateDir, t.TempDir())
	return l
}

// genRE matches mpathpersist's "PR generation=0xN" (tgtd's counter).
var genRE = regexp.MustCompile(`PR generation=0x[0-9a-f]+`)

func noGen(s string) string { return genRE.ReplaceAllString(s, "PR generation=G") }

// TestLabPersistTwoHosts is issue 24's cluster case through the CLI, on a
// tgtd of its own: host A (gomp attach, two paths, round-robin) registers
// its key through both paths (READ KEYS lists it twice, one per I_T
// nexus); a Write Exclusive reservation (type 1) is listed and fences off
// host B (a second gomp attach, another initiator name); READ FULL STATUS
// and PREEMPT AND ABORT, which tgtd does not implement, say so; under
// Write Exclusive, Registrants Only (5, what fence_mpath uses: type 1
// lets only the one nexus that reserved write) A's writes pass through
// both paths and B reads them back while B's writes conflict; B
// preempts A: A's writes fail, gomp says it was fenced, no path of A
// is failed; B releases and clears.
func TestLabPersistTwoHosts(t *testing.T) {
	l := newPersistLab(t)
	a := startPersistHost(t, persistHostA, l.Portals[:2], "--selector", "round-robin")
	b := startPersistHost(t, persistHostB, l.Portals[:2])
	require.Equal(t, a.dev.name, b.dev.name, "one LUN, one WWID")
	require.Equal(t, 4, l.Nexuses(1))

	require.Empty(t, a.mustPersist("--out", "--register", "--param-sark=0xa1"))
	require.Equal(t, "  PR generation=G, \t2 registered reservation keys follow:\n    0xa1\n    0xa1\n",
		noGen(a.mustPersist("--in", "--read-keys")))
	a.requirePathsUp(true)
	require.Equal(t, "0xa1", a.status().Device.Reservation.Key)

	// Write Exclusive (1): held by the nexus that reserved.
	code, _, stderr := a.persist("--out", "--reserve", "--prout-type=1", "--param-rk=0xa1")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stderr, "only the I_T nexus that holds it may write")
	require.Equal(t, "  PR generation=G, Reservation follows:\n   Key = 0xa1\n  scope = LU_SCOPE, type = Write Exclusive\n",
		noGen(a.mustPersist("--in", "--read-reservation")))
	code, out, stderr := a.persist("--in", "--read-full-status")
	t.Logf("gomp persist --in --read-full-status (exit %d):\n%s%s", code, out, stderr)
	require.Equal(t, exitFailure, code)
	require.Empty(t, out)
	require.Contains(t, stderr, "the target does not support READ FULL STATUS (")
	require.Contains(t, stderr, "ILLEGAL REQUEST: INVALID FIELD IN CDB")
	bc := b.dial()
	ctx := context.Background()
	requireNBDError(t, bc.WriteAt(ctx, bytes.Repeat([]byte{'b'}, 4096), 0, false))
	require.Contains(t, b.errb.String(), "RESERVATION CONFLICT: another host holds a reservation that excludes this host")
	require.Empty(t, a.mustPersist("--out", "--release", "--prout-type=1", "--param-rk=0xa1"))
	require.Equal(t, "  PR generation=G, there is NO reservation held \n", noGen(a.mustPersist("--in", "--read-reservation")))

	// Write Exclusive, Registrants Only (5): A writes through both paths.
	require.Empty(t, a.mustPersist("--out", "--reserve", "--prout-type=5", "--param-rk=0xa1"))
	require.Equal(t, "  PR generation=G, Reservation follows:\n   Key = 0xa1\n  scope = LU_SCOPE, type = Write Exclusive, registrants only\n",
		noGen(a.mustPersist("--in", "--read-reservation")))
	ac := a.dial()
	data := make([]byte, 64<<10)
	for i := range 16 {
		copy(data, bytes.Repeat([]byte{byte('A' + i)}, len(data)))
		require.NoError(t, ac.WriteAt(ctx, data, int64(i)*int64(len(data)), false))
	}
	for _, g := range a.status().Device.Groups {
		for _, p := range g.Paths {
			require.NotZero(t, p.WrittenBytes, "%s carried A's writes", p.Portal)
		}
	}
	got := make([]byte, len(data))
	for i := range 16 {
		require.NoError(t, bc.ReadAt(ctx, got, int64(i)*int64(len(data))), "Write Exclusive: B reads")
		require.Equal(t, bytes.Repeat([]byte{byte('A' + i)}, len(data)), got, "B reads what A wrote")
	}
	requireNBDError(t, bc.WriteAt(ctx, bytes.Repeat([]byte{'b'}, 4096), 0, false))
	b.requireNoFailedPath()

	// B fences A: PREEMPT AND ABORT (tgtd refuses it), then PREEMPT.
	require.Empty(t, b.mustPersist("--out", "--register", "--param-sark=0xb2"))
	require.Equal(t, "  PR generation=G, \t4 registered reservation keys follow:\n    0xa1\n    0xa1\n    0xb2\n    0xb2\n",
		noGen(sortedKeys(a.mustPersist("--in", "--read-keys"))))
	code, _, stderr = b.persist("--out", "--preempt-abort", "--prout-type=5", "--param-rk=0xb2", "--param-sark=0xa1")
	t.Logf("gomp persist --out --preempt-abort: exit %d: %s", code, stderr)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "the target does not support PREEMPT AND ABORT of type Write Exclusive, registrants only (")
	require.Empty(t, b.mustPersist("--out", "--preempt", "--prout-type=5", "--param-rk=0xb2", "--param-sark=0xa1"))
	require.Equal(t, "  PR generation=G, \t2 registered reservation keys follow:\n    0xb2\n    0xb2\n",
		noGen(a.mustPersist("--in", "--read-keys")))
	require.Equal(t, "  PR generation=G, Reservation follows:\n   Key = 0xb2\n  scope = LU_SCOPE, type = Write Exclusive, registrants only\n",
		noGen(a.mustPersist("--in", "--read-reservation")))
	for i := range 4 {
		requireNBDError(t, ac.WriteAt(ctx, data, int64(i)*int64(len(data)), false))
	}
	require.Contains(t, a.errb.String(), "this host's reservation key was preempted or cleared by another host (fenced)")
	a.requirePathsUp(false)
	require.NoError(t, ac.ReadAt(ctx, got, 0), "fenced from writing, A still reads")
	require.NoError(t, bc.WriteAt(ctx, data, 0, false), "B, the holder, writes")

	// The same LUN straight through --target, with a third name: read only.
	code, out, stderr = runCLI(t, "persist", "--in", "--read-keys", "--target", persistLabTarget,
		"--portal", l.Portals[2], "--lun", "1", "--initiator-name", "iqn.2026-11.dev.gomp:persist-host-c")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "  PR generation=G, \t2 registered reservation keys follow:\n    0xb2\n    0xb2\n", noGen(out))

	require.Empty(t, b.mustPersist("--out", "--release", "--prout-type=5", "--param-rk=0xb2"))
	require.Equal(t, "  PR generation=G, there is NO reservation held \n", noGen(b.mustPersist("--in", "--read-reservation")))
	require.Empty(t, b.mustPersist("--out", "--clear", "--param-rk=0xb2"))
	require.Equal(t, "  PR generation=G, \tthere are NO registered reservation keys\n", noGen(b.mustPersist("--in", "--read-keys")))
	require.NoError(t, ac.WriteAt(ctx, data, 0, false), "no reservation: A writes again")
	b.requireNoFailedPath()
}

func (h *persistHost) requireNoFailedPath() {
	h.t.Helper()
	for _, g := range h.status().Device.Groups {
		for _, p := range g.Paths {
			require.Equal(h.t, "active", p.State, p.Portal)
		}
	}
}

// sortedKeys sorts the key lines of READ KEYS output (tgtd lists them in
// registration order, which the parallel REGISTER leaves open).
func sortedKeys(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > 1 {
		sort.Strings(lines[1:])
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestLabPersistRegisterTime: the wall time of gomp persist --out
// --register (key and unregister) on a 4-path device, several rounds; the
// numbers are logged (README, persistent reservations).
func TestLabPersistRegisterTime(t *testing.T) {
	l := newPersistLab(t)
	h := startPersistHost(t, persistHostA, l.Portals)
	require.Equal(t, 4, l.Nexuses(1))
	var reg, unreg []time.Duration
	for range 8 {
		start := time.Now()
		h.mustPersist("--out", "--register", "--param-sark=0xc1")
		reg = append(reg, time.Since(start))
		require.Equal(t, 4, strings.Count(h.mustPersist("--in", "--read-keys"), "0xc1"))
		start = time.Now()
		h.mustPersist("--out", "--register", "--param-rk=0xc1", "--param-sark=0")
		unreg = append(unreg, time.Since(start))
	}
	t.Logf("gomp persist --out --register, 4 paths, wall time: register %s; unregister %s", durations(reg), durations(unreg))
	errb := h.errb.String()
	took := regexp.MustCompile(`REGISTER done".*paths=4 failed=0 took=(\S+)`).FindAllStringSubmatch(errb, -1)
	require.NotEmpty(t, took, errb)
	var in []string
	for _, m := range took {
		in = append(in, m[1])
	}
	t.Logf("inside gomp (4 REGISTERs in parallel): %s", strings.Join(in, " "))
}

// durations prints min / median / max.
func durations(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("min %s median %s max %s (n=%d)", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), len(s))
}
