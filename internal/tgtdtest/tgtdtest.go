// Package tgtdtest runs a tgtd (the tgt target daemon) of a test's own,
// beside the shared lab of scripts/lab.sh: its own control port, claimed
// so that tests of several packages running at once never share one, and
// its own portals, on loopback addresses or in a network namespace the
// test made. tgtadm drives it; everything is removed when the test ends.
//
// It needs root and the tgtd and tgtadm programs; callers decide whether
// the lab is available before calling Start.
package tgtdtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options says where the daemon listens.
type Options struct {
	// Hosts are the portals' addresses; tgtd starts on the first, the
	// others are added as portals.
	Hosts []string
	// Port is the portals' TCP port. 0 picks one from the claimed
	// control port (3300 + its offset), so that no other tgtd of a test
	// listens there, whatever the addresses.
	Port int
	// Netns, when set, runs tgtd in that network namespace.
	Netns string
}

// Tgtd is one running tgtd.
type Tgtd struct {
	Ctl     string   // control port (tgtadm -C)
	Portals []string // HOST:PORT
	Dir     string   // where AddLUN puts backing files

	t     testing.TB
	cmd   *exec.Cmd
	claim string
}

// socketDir is where tgtd puts its control socket, socket.CTL.
const socketDir = "/run/tgtd"

// Start starts tgtd as o says and waits (bounded) until it answers; it is
// killed at the end of the test (SIGKILL: tgtd ignores SIGTERM while it
// has targets).
func Start(t testing.TB, o Options) *Tgtd {
	t.Helper()
	if len(o.Hosts) == 0 {
		t.Fatal("tgtdtest: no portal")
	}
	d := &Tgtd{Dir: t.TempDir(), t: t}
	d.Ctl, d.claim = claimCtl(t)
	port := o.Port
	if port == 0 {
		n, _ := strconv.Atoi(d.Ctl)
		port = 3300 + n - ctlFirst
	}
	for _, h := range o.Hosts {
		d.Portals = append(d.Portals, net.JoinHostPort(h, strconv.Itoa(port)))
	}
	args := []string{"tgtd", "-f", "-C", d.Ctl, "--iscsi", "portal=" + d.Portals[0]}
	if o.Netns != "" {
		args = append([]string{"ip", "netns", "exec", o.Netns}, args...)
	}
	d.cmd = exec.Command(args[0], args[1:]...)
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("tgtdtest: %v", err)
	}
	t.Cleanup(d.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for _, err := d.Adm("--op", "show", "--mode", "target"); err != nil; _, err = d.Adm("--op", "show", "--mode", "target") {
		if time.Now().After(deadline) {
			t.Fatalf("tgtdtest: tgtd does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the control socket appears asynchronously
	}
	for _, p := range d.Portals[1:] {
		d.MustAdm("--op", "new", "--mode", "portal", "--param", "portal="+p)
	}
	return d
}

// Stop kills tgtd and removes its control socket and claim; it may be
// called more than once.
func (d *Tgtd) Stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
	for _, p := range []string{sock(d.Ctl), sock(d.Ctl) + ".lock", d.claim} {
		_ = os.Remove(p)
	}
}

// Adm runs tgtadm against this tgtd and returns its output.
func (d *Tgtd) Adm(args ...string) (string, error) {
	out, err := exec.Command("tgtadm", append([]string{"-C", d.Ctl, "--lld", "iscsi"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tgtadm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustAdm is Adm failing the test on error.
func (d *Tgtd) MustAdm(args ...string) string {
	d.t.Helper()
	out, err := d.Adm(args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// NewTarget creates target tid named iqn. With initiators it is bound to
// those initiator names only; without, to every initiator.
func (d *Tgtd) NewTarget(tid int, iqn string, initiators ...string) {
	d.t.Helper()
	d.MustAdm("--op", "new", "--mode", "target", "--tid", fmt.Sprint(tid), "--targetname", iqn)
	if len(initiators) == 0 {
		d.MustAdm("--op", "bind", "--mode", "target", "--tid", fmt.Sprint(tid), "--initiator-address", "ALL")
	}
	for _, name := range initiators {
		d.MustAdm("--op", "bind", "--mode", "target", "--tid", fmt.Sprint(tid), "--initiator-name", name)
	}
}

// AddLUN adds LUN lun to target tid, backed by a sparse file of size
// bytes in Dir, and returns the file's path.
func (d *Tgtd) AddLUN(tid, lun int, size int64) string {
	d.t.Helper()
	file := filepath.Join(d.Dir, fmt.Sprintf("t%d-lun%d.img", tid, lun))
	f, err := os.Create(file)
	if err == nil {
		err = errors.Join(f.Truncate(size), f.Close())
	}
	if err != nil {
		d.t.Fatalf("tgtdtest: %v", err)
	}
	d.MustAdm("--op", "new", "--mode", "logicalunit", "--tid", fmt.Sprint(tid), "--lun", fmt.Sprint(lun), "--backing-store", file)
	return file
}

var (
	targetRE = regexp.MustCompile(`(?m)^Target `)
	nexusRE  = regexp.MustCompile(`(?m)^\s*I_T nexus: \d+`)
)

// Nexuses returns the number of I_T nexuses (sessions) of target tid.
func (d *Tgtd) Nexuses(tid int) int {
	d.t.Helper()
	for _, block := range targetRE.Split(d.MustAdm("--op", "show", "--mode", "target"), -1) {
		if strings.HasPrefix(block, fmt.Sprintf("%d: ", tid)) {
			return len(nexusRE.FindAllString(block, -1))
		}
	}
	return 0
}

func sock(ctl string) string { return filepath.Join(socketDir, "socket."+ctl) }

// Control ports are claimed from ctlFirst to ctlFirst+ctlCount-1.
const (
	ctlFirst = 1000
	ctlCount = 1000
)

// claimCtl claims a control port no other tgtd uses: its socket does not
// exist, and a claim file made with O_EXCL (holding the claimer's pid, so
// that a claim of a process that died is taken over) says it is this
// test's. It returns the port and the claim file.
func claimCtl(t testing.TB) (string, string) {
	t.Helper()
	if err := os.MkdirAll(socketDir, 0o755); err != nil {
		t.Fatalf("tgtdtest: %v", err)
	}
	start := os.Getpid() % ctlCount
	for i := range ctlCount {
		ctl := strconv.Itoa(ctlFirst + (start+i)%ctlCount)
		claim := sock(ctl) + ".gomp-claim"
		if _, err := os.Stat(sock(ctl)); err == nil {
			continue
		}
		if takeClaim(claim) {
			return ctl, claim
		}
	}
	t.Fatal("tgtdtest: no free tgtd control port")
	return "", ""
}

// takeClaim creates claim with this process's pid, or takes over one
// whose process is gone.
func takeClaim(claim string) bool {
	for range 2 {
		f, err := os.OpenFile(claim, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := fmt.Fprint(f, os.Getpid())
			return errors.Join(werr, f.Close()) == nil
		}
		b, rerr := os.ReadFile(claim)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if rerr != nil || perr != nil || pid == os.Getpid() || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return false // in use (by a live process, or by another test of this one)
		}
		_ = os.Remove(claim) // its process died: stale
	}
	return false
}
