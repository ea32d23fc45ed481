package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/chaostest"
	"github.com/gomp-dev/gomp/internal/tgtdtest"
)

// twoNICLab is the seed's topology in network namespaces: a "target"
// namespace running its own tgtd on two addresses in two subnets, and a
// "host" namespace with one veth in each subnet (h0, h1), like a host with
// one NIC per storage subnet.
type twoNICLab struct {
	t         *testing.T
	host, tgt string // namespace names
	image     string
	target    string
	portals   [2]string // target addresses, one per subnet
	tgtd      *tgtdtest.Tgtd
	gomp      *exec.Cmd
	gompOut   *syncBuffer
	gompErr   *syncBuffer
	gompDone  chan struct{} // closed when gomp attach has exited
	gompExit  error         // its exit status, once gompDone is closed
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out)
}

// newTwoNICLab builds both namespaces, the two veth links and the target;
// everything is removed when the test ends, failed or not.
func newTwoNICLab(t *testing.T) *twoNICLab {
	lab(t)
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	for _, tool := range []string{"ip", "tgtd", "tgtadm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	id := os.Getpid() % 10000
	l := &twoNICLab{t: t, host: fmt.Sprintf("gomph%d", id), tgt: fmt.Sprintf("gompt%d", id),
		image:  fmt.Sprintf("/dev/shm/gomp-2nic-%d.img", id),
		target: "iqn.2026-11.dev.gomp:twonic", portals: [2]string{"198.18.10.1", "198.18.11.1"}}
	t.Cleanup(l.teardown)
	for _, ns := range []string{l.host, l.tgt} {
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	// The target's two ports sit on separate storage networks: each
	// answers ARP only for its own address, as an array's ports do (a
	// Linux host's default answers for all its addresses on every link).
	for _, kv := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"} {
		sh(t, "ip", "netns", "exec", l.tgt, "sysctl", "-qw", kv)
	}
	for i := range 2 {
		h, tg := fmt.Sprintf("h%d", i), fmt.Sprintf("t%d", i)
		sh(t, "ip", "link", "add", "name", h, "netns", l.host, "type", "veth", "peer", "name", tg, "netns", l.tgt)
		sh(t, "ip", "-n", l.host, "addr", "add", fmt.Sprintf("198.18.%d.2/24", 10+i), "dev", h)
		sh(t, "ip", "-n", l.tgt, "addr", "add", l.portals[i]+"/24", "dev", tg)
		sh(t, "ip", "-n", l.host, "link", "set", h, "up")
		sh(t, "ip", "-n", l.tgt, "link", "set", tg, "up")
	}
	l.startTarget()
	return l
}

func (l *twoNICLab) startTarget() {
	t := l.t
	sh(t, "truncate", "-s", "256M", l.image)
	l.tgtd = tgtdtest.Start(t, tgtdtest.Options{Hosts: l.portals[:], Port: 3260, Netns: l.tgt})
	l.tgtd.NewTarget(1, l.target)
	l.tgtd.MustAdm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--backing-store", l.image)
}

// gompIn runs the gomp command line in the host namespace (this test
// binary, as gomp: see TestMain) and returns its combined output.
func (l *twoNICLab) gompIn(args ...string) (string, error) {
	self, err := os.Executable()
	require.NoError(l.t, err)
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.host, self}, args...)...)
	cmd.Env = append(os.Environ(), envAsGomp+"=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startAttach runs gomp attach in the host namespace until ready.
func (l *twoNICLab) startAttach(args ...string) {
	t := l.t
	self, err := os.Executable()
	require.NoError(t, err)
	l.gomp = exec.Command("ip", append([]string{"netns", "exec", l.host, self, "attach"}, args...)...)
	l.gomp.Env = append(os.Environ(), envAsGomp+"=1")
	l.gompOut, l.gompErr = &syncBuffer{}, &syncBuffer{}
	l.gomp.Stdout, l.gomp.Stderr = l.gompOut, l.gompErr
	require.NoError(t, l.gomp.Start())
	t.Cleanup(l.stopGomp) // before tgtd is killed: gomp logs out
	l.gompDone = make(chan struct{})
	go func() {
		l.gompExit = l.gomp.Wait()
		close(l.gompDone)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(l.gompOut.String(), "ready: ") {
		select {
		case <-l.gompDone:
			t.Fatalf("gomp attach ended before ready: %v\n%s", l.gompExit, l.gompErr.String())
		case <-time.After(50 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "gomp attach not ready: %s", l.gompErr.String())
	}
}

// stopGomp stops gomp attach (SIGTERM, then SIGKILL after 20 s).
func (l *twoNICLab) stopGomp() {
	_ = l.gomp.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.gompDone:
	case <-time.After(20 * time.Second):
		_ = l.gomp.Process.Kill()
		<-l.gompDone
	}
}

// teardown removes the namespaces (tgtd and gomp are stopped by then).
func (l *twoNICLab) teardown() {
	for _, ns := range []string{l.host, l.tgt} {
		_ = exec.Command("ip", "netns", "del", ns).Run() // takes its veth ends with it
	}
	os.Remove(l.image)
}

// ifBytes returns the bytes received plus sent on a host-side veth.
func (l *twoNICLab) ifBytes(dev string) int64 {
	var links []struct {
		Stats64 struct {
			RX struct{ Bytes int64 } `json:"rx"`
			TX struct{ Bytes int64 } `json:"tx"`
		} `json:"stats64"`
	}
	require.NoError(l.t, json.Unmarshal([]byte(sh(l.t, "ip", "-n", l.host, "-j", "-s", "link", "show", "dev", dev)), &links))
	require.Len(l.t, links, 1)
	return links[0].Stats64.RX.Bytes + links[0].Stats64.TX.Bytes
}

// split measures the bytes each veth carries over d.
func (l *twoNICLab) split(d time.Duration) (h0, h1 int64) {
	a0, a1 := l.ifBytes("h0"), l.ifBytes("h1")
	time.Sleep(d)
	return l.ifBytes("h0") - a0, l.ifBytes("h1") - a1
}

// pathStates returns each path's dm state by interface, from gomp status.
func pathStates(t *testing.T, ctl string) map[string]string {
	code, stdout, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Len(t, st, 1)
	states := map[string]string{}
	for _, g := range st[0].Device.Groups {
		for _, p := range g.Paths {
			states[p.Interface] = p.DMState
		}
	}
	return states
}

func waitState(t *testing.T, ctl, iface, want string, limit time.Duration) time.Duration {
	start := time.Now()
	for {
		if pathStates(t, ctl)[iface] == want {
			return time.Since(start)
		}
		require.Less(t, time.Since(start), limit, "path @%s never became %s: %v", iface, want, pathStates(t, ctl))
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLabTwoNICs: two paths, each bound to its own NIC (@IFACE), carry a
// fair share of the I/O each under round-robin; one link going down fails
// only its path, with no I/O error and no lost write; the link coming back
// reinstates it; a path bound to the wrong NIC cannot reach its portal
// and says so.
func TestLabTwoNICs(t *testing.T) {
	l := newTwoNICLab(t)
	dir := t.TempDir()
	ctl, sock := filepath.Join(dir, "ctl"), filepath.Join(dir, "twonic.nbd")

	// The wrong NIC: h0 sits in 198.18.10.0/24, the portal in .11.
	out, err := l.gompIn("ls", "--target", l.target, "--portal", l.portals[1]+"@h0", "--timeout", "5s")
	require.Error(t, err, "a path bound to the wrong interface must not reach its portal: %s", out)
	require.Contains(t, out, "via h0", "the error names the binding")
	t.Logf("wrong interface: %s", strings.TrimSpace(out))

	// Discovery through one NIC.
	out, err = l.gompIn("discover", "--iface", "h1", l.portals[1])
	require.NoError(t, err, "%s", out)
	require.Contains(t, out, l.portals[1]+":3260,1 "+l.target)

	// The node record, written in the host namespace (its NICs are
	// checked), attached from there as the systemd unit would.
	state := filepath.Join(dir, "state")
	out, err = l.gompIn("node", "add", "twonic", "--state-dir", state, "--startup", "automatic",
		"--target", l.target, "--lun", "1", "--selector", "round-robin", "--alias", "twonic",
		"--portal", l.portals[0]+"@h0", "--portal", l.portals[1]+"@h1",
		"--listen", "unix:"+sock, "--control-dir", ctl)
	require.NoError(t, err, "%s", out)
	l.startAttach("--node", "twonic", "--state-dir", state)
	require.Equal(t, map[string]string{"h0": "active", "h1": "active"}, pathStates(t, ctl))
	code, stdout, _ := runCLI(t, "status", "--control-dir", ctl)
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, l.portals[0]+":3260@h0 active")
	require.Contains(t, stdout, l.portals[1]+":3260@h1 active")

	ctx := context.Background()
	var clients []*chaostest.Client
	for range 2 {
		c, err := chaostest.Dial(ctx, sock, "twonic")
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() }) // before teardown; a no-op after the Close below
		clients = append(clients, c)
	}
	w := &chaostest.Workload{Clients: clients, Base: 0, Size: 64 << 20, Workers: 8, IOTimeout: time.Minute}
	w.Start()
	stopped := false
	defer func() {
		if !stopped {
			w.Stop()
		}
	}()

	time.Sleep(time.Second)
	b0, b1 := l.split(3 * time.Second)
	total := b0 + b1
	t.Logf("round-robin over two NICs, 3 s: h0 %.1f MB (%.0f%%), h1 %.1f MB (%.0f%%)",
		float64(b0)/1e6, 100*float64(b0)/float64(total), float64(b1)/1e6, 100*float64(b1)/float64(total))
	require.Greater(t, b0, total/4, "h0 must carry a fair share")
	require.Greater(t, b1, total/4, "h1 must carry a fair share")

	// One link down: only its path fails, I/O goes on through the other.
	before := w.Stats()
	sh(t, "ip", "-n", l.host, "link", "set", "h1", "down")
	detect := waitState(t, ctl, "h1", "failed", 30*time.Second)
	require.Equal(t, "active", pathStates(t, ctl)["h0"])
	b0, b1 = l.split(2 * time.Second)
	t.Logf("h1 down: path failed after %v; next 2 s: h0 %.1f MB, h1 %.1f MB", detect.Round(10*time.Millisecond),
		float64(b0)/1e6, float64(b1)/1e6)
	require.Greater(t, b0, int64(1<<20), "I/O must go on through h0")
	mid := w.Stats()
	require.Greater(t, mid.IOs, before.IOs)
	require.Zero(t, mid.Errors, "no I/O error while a link is down: %v", mid.FirstError)
	code, stdout, _ = runCLI(t, "status", "--control-dir", ctl)
	require.Equal(t, exitOK, code)
	require.Regexp(t, regexpQuote(l.portals[1]+":3260@h1")+` failed`, stdout)

	// Link up: the path is reinstated and carries I/O again.
	sh(t, "ip", "-n", l.host, "link", "set", "h1", "up")
	back := waitState(t, ctl, "h1", "active", 60*time.Second)
	b0, b1 = l.split(2 * time.Second)
	t.Logf("h1 up: reinstated after %v; next 2 s: h0 %.1f MB, h1 %.1f MB", back.Round(10*time.Millisecond),
		float64(b0)/1e6, float64(b1)/1e6)
	require.Greater(t, b1, int64(1<<20), "the reinstated path carries I/O again")

	w.Stop()
	stopped = true
	st := w.Stats()
	fc := w.VerifyAll()
	t.Logf("workload: %d I/Os (%d writes, %d reads), %d errors, %d mismatches, worst stall %v; final check: %d sectors, %d lost",
		st.IOs, st.Writes, st.Reads, st.Errors, st.Mismatches, st.WorstStall.Round(time.Millisecond), fc.Sectors, fc.LostSectors)
	require.Zero(t, st.Errors, "first error: %v", st.FirstError)
	require.Zero(t, st.Mismatches, "%v", w.Mismatches())
	require.Zero(t, fc.LostSectors)
	require.Zero(t, fc.ReadErrors)
	require.Positive(t, fc.Sectors)

	for _, c := range clients {
		require.NoError(t, c.Close())
	}
	code, _, stderr := runCLI(t, "detach", "twonic", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	select {
	case <-l.gompDone:
		require.NoError(t, l.gompExit, "gomp attach exits 0 after detach: %s", l.gompErr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("gomp attach did not exit after detach")
	}
}

func regexpQuote(s string) string { return strings.NewReplacer(".", `\.`).Replace(s) }
