package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tgtLab is a tgtd of the test's own, beside the shared lab of
// scripts/lab.sh: its own control port and loopback addresses (127.77.N.x),
// so that tests using it run in make test without touching the shared
// lab's targets. Everything is removed when the test ends.
type tgtLab struct {
	t       *testing.T
	ctl     string   // tgtd control port (tgtadm -C)
	portals []string // HOST:PORT, one per portal
	tgtd    *exec.Cmd
	dir     string // backing files
}

// newTgtLab starts tgtd serving n portals on 127.77.N.1, .2, … port 3261.
// It skips unless the lab is available (GOMP_LAB=1, root, tgtd).
func newTgtLab(t *testing.T, n int) *tgtLab {
	lab(t)
	if os.Geteuid() != 0 {
		t.Skip("tgtd needs root")
	}
	for _, tool := range []string{"tgtd", "tgtadm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	id := os.Getpid()%150 + 100
	l := &tgtLab{t: t, ctl: fmt.Sprint(800 + id), dir: t.TempDir()}
	if _, err := os.Stat("/run/tgtd/socket." + l.ctl); err == nil {
		t.Skipf("tgtd control port %s is in use", l.ctl)
	}
	for i := range n {
		l.portals = append(l.portals, fmt.Sprintf("127.77.%d.%d:3261", id, i+1))
	}
	l.tgtd = exec.Command("tgtd", "-f", "-C", l.ctl, "--iscsi", "portal="+l.portals[0])
	require.NoError(t, l.tgtd.Start())
	t.Cleanup(l.stop)
	deadline := time.Now().Add(10 * time.Second)
	for _, err := l.adm("--op", "show", "--mode", "target"); err != nil; _, err = l.adm("--op", "show", "--mode", "target") {
		require.True(t, time.Now().Before(deadline), "tgtd does not answer: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range l.portals[1:] {
		l.mustAdm("--op", "new", "--mode", "portal", "--param", "portal="+p)
	}
	return l
}

// stop kills tgtd (it ignores SIGTERM while it has targets) and removes
// its control socket.
func (l *tgtLab) stop() {
	_ = l.tgtd.Process.Kill()
	_ = l.tgtd.Wait()
	os.Remove("/run/tgtd/socket." + l.ctl)
	os.Remove("/run/tgtd/socket." + l.ctl + ".lock")
}

// adm runs tgtadm against this tgtd.
func (l *tgtLab) adm(args ...string) (string, error) {
	out, err := exec.Command("tgtadm", append([]string{"-C", l.ctl, "--lld", "iscsi"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tgtadm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (l *tgtLab) mustAdm(args ...string) string {
	l.t.Helper()
	out, err := l.adm(args...)
	require.NoError(l.t, err)
	return out
}

// newTarget creates target tid named iqn. With initiators it is bound to
// those initiator names only; without, to every initiator.
func (l *tgtLab) newTarget(tid int, iqn string, initiators ...string) {
	l.mustAdm("--op", "new", "--mode", "target", "--tid", fmt.Sprint(tid), "--targetname", iqn)
	if len(initiators) == 0 {
		l.mustAdm("--op", "bind", "--mode", "target", "--tid", fmt.Sprint(tid), "--initiator-address", "ALL")
	}
	for _, name := range initiators {
		l.mustAdm("--op", "bind", "--mode", "target", "--tid", fmt.Sprint(tid), "--initiator-name", name)
	}
}

// addLUN adds LUN lun to target tid, backed by a sparse file of size
// bytes.
func (l *tgtLab) addLUN(tid, lun int, size int64) {
	l.t.Helper()
	file := filepath.Join(l.dir, fmt.Sprintf("t%d-lun%d.img", tid, lun))
	f, err := os.Create(file)
	require.NoError(l.t, err)
	require.NoError(l.t, f.Truncate(size))
	require.NoError(l.t, f.Close())
	l.mustAdm("--op", "new", "--mode", "logicalunit", "--tid", fmt.Sprint(tid), "--lun", fmt.Sprint(lun), "--backing-store", file)
}

// nexusRE matches the "I_T nexus: N" lines of tgtadm --op show.
var nexusRE = regexp.MustCompile(`(?m)^\s*I_T nexus: \d+`)

// nexuses returns the number of I_T nexuses (sessions) of target tid.
func (l *tgtLab) nexuses(tid int) int {
	out := l.mustAdm("--op", "show", "--mode", "target")
	for _, block := range regexp.MustCompile(`(?m)^Target `).Split(out, -1) {
		if strings.HasPrefix(block, fmt.Sprintf("%d: ", tid)) {
			return len(nexusRE.FindAllString(block, -1))
		}
	}
	return 0
}
