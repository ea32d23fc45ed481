package multipath

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/internal/tgtdtest"
	"github.com/stretchr/testify/require"
)

// netnsLab is a private target behind two rate-limited links: a network
// namespace holding its own tgtd, reached through two veth pairs whose
// both directions are shaped by tbf.
type netnsLab struct {
	t       *testing.T
	ns      string
	target  string
	hosts   []string // the target's addresses, one per link
	portals []string
	tgtd    *tgtdtest.Tgtd
	image   string
}

const netnsRate = "400mbit" // 50 MB/s per path and direction

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
}

// newNetnsLab builds the namespace, links and target; everything is torn
// down at the end of the test.
func newNetnsLab(t *testing.T) *netnsLab {
	t.Helper()
	lab(t)
	if os.Getenv("GOMP_LAB_NETNS") != "1" {
		t.Skip("set GOMP_LAB_NETNS=1 to build network namespaces with tbf-shaped veth links (needs root, ip, tc, tgtd)")
	}
	for _, tool := range []string{"ip", "tc", "tgtd", "tgtadm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	id := os.Getpid() % 10000
	l := &netnsLab{t: t, ns: fmt.Sprintf("gompmp%d", id),
		target: "iqn.2026-11.dev.gomp:mpbench", image: fmt.Sprintf("/dev/shm/gomp-mp-bench-%d.img", id)}
	t.Cleanup(l.teardown)
	run(t, "ip", "netns", "add", l.ns)
	run(t, "ip", "-n", l.ns, "link", "set", "lo", "up")
	for i := range 2 {
		l.link(i, id)
	}
	l.startTarget()
	return l
}

// link creates veth pair i with 198.18.i+1.1 outside and .2 inside, both
// directions shaped.
func (l *netnsLab) link(i, id int) {
	out, in := fmt.Sprintf("gmp%d%c", id, 'a'+i), fmt.Sprintf("gmp%d%cp", id, 'a'+i)
	outIP, inIP := fmt.Sprintf("198.18.%d.1", i+1), fmt.Sprintf("198.18.%d.2", i+1)
	run(l.t, "ip", "link", "add", out, "type", "veth", "peer", "name", in, "netns", l.ns)
	run(l.t, "ip", "addr", "add", outIP+"/24", "dev", out)
	run(l.t, "ip", "link", "set", out, "up")
	run(l.t, "ip", "-n", l.ns, "addr", "add", inIP+"/24", "dev", in)
	run(l.t, "ip", "-n", l.ns, "link", "set", in, "up")
	tbf := []string{"root", "tbf", "rate", netnsRate, "burst", "256kb", "latency", "50ms"}
	run(l.t, "tc", append([]string{"qdisc", "add", "dev", out}, tbf...)...)
	run(l.t, "tc", append([]string{"-n", l.ns, "qdisc", "add", "dev", in}, tbf...)...)
	l.hosts = append(l.hosts, inIP)
}

// startTarget runs tgtd in the namespace with one 512 MiB LUN on both
// portals, tuned like the lab's open target.
func (l *netnsLab) startTarget() {
	t := l.t
	run(t, "truncate", "-s", "512M", l.image)
	l.tgtd = tgtdtest.Start(t, tgtdtest.Options{Hosts: l.hosts, Port: 3260, Netns: l.ns})
	l.portals = l.tgtd.Portals
	l.tgtd.NewTarget(1, l.target)
	l.tgtd.MustAdm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--backing-store", l.image)
	for _, kv := range []string{"InitialR2T=No", "ImmediateData=Yes", "MaxRecvDataSegmentLength=262144",
		"MaxXmitDataSegmentLength=262144", "MaxBurstLength=1048576", "FirstBurstLength=262144", "MaxOutstandingR2T=8"} {
		k, v, _ := strings.Cut(kv, "=")
		l.tgtd.MustAdm("--op", "update", "--mode", "target", "--tid", "1", "--name", k, "--value", v)
	}
}

func (l *netnsLab) teardown() {
	_ = exec.Command("ip", "netns", "del", l.ns).Run() // takes the veth pairs with it (tgtd is stopped by then)
	os.Remove(l.image)
}

// rate reads (or writes) 1 MiB blocks sequentially from depth goroutines
// through the given portals for dur and returns MB/s.
func (l *netnsLab) rate(portals []string, write bool, dur time.Duration) float64 {
	t := l.t
	ctx, cancel := context.WithTimeout(context.Background(), dur+20*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: l.target, LUN: 1, Portals: portals})
	require.NoError(t, err)
	defer d.Close(ctx)
	const depth, block = 8, 1 << 20
	var total atomic.Int64
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range depth {
		wg.Go(func() {
			buf := make([]byte, block)
			for {
				select {
				case <-stop:
					return
				default:
				}
				off := next.Add(1) % (d.Size() / block) * block
				var n int
				var err error
				if write {
					n, err = d.WriteAtContext(ctx, buf, off, false)
				} else {
					n, err = d.ReadAtContext(ctx, buf, off)
				}
				require.NoError(t, err)
				total.Add(int64(n))
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // warm up: TCP windows, tbf bursts
	start, base := time.Now(), total.Load()
	time.Sleep(dur)
	rate := float64(total.Load()-base) / time.Since(start).Seconds() / 1e6
	close(stop)
	wg.Wait()
	return rate
}

// TestLabAggregation is a benchmark run as a test (make bench-aggregation):
// two paths of 50 MB/s each should carry about twice what one carries,
// reading and writing. It prints the ratio; it asserts no timing.
func TestLabAggregation(t *testing.T) {
	l := newNetnsLab(t)
	for _, write := range []bool{false, true} {
		op := map[bool]string{false: "reads", true: "writes"}[write]
		one := l.rate(l.portals[:1], write, 4*time.Second)
		two := l.rate(l.portals, write, 4*time.Second)
		t.Logf("sequential 1 MiB %s, QD 8, tbf %s per path: one path %.1f MB/s, two paths %.1f MB/s (%.2f×)",
			op, netnsRate, one, two, two/one)
	}
}
