package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

const iqn = "iqn.2026-11.dev.gomp:scale"

type options struct {
	gomp    string
	ctl     string
	luns    int
	portals []string
	qd      int
	shapes  []shape
	dur     time.Duration
	rounds  int
}

func main() {
	var o options
	nPortals := flag.Int("portals", 4, "portals, 127.22.64.1:3260 and up")
	flag.StringVar(&o.gomp, "gomp", "bin/gomp", "the gomp binary")
	flag.StringVar(&o.ctl, "ctl", "2264", "tgtd control port (tgtd -C)")
	flag.IntVar(&o.luns, "luns", 64, "null LUNs behind the target")
	flag.IntVar(&o.qd, "qd", 64, "4 KiB reads in flight in all, split over the busy devices; also the connections of the second series")
	flag.DurationVar(&o.dur, "time", 5*time.Second, "each load run")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of the load runs (1, 8, all devices busy, in turn); medians are printed")
	flag.Parse()
	for i := range *nPortals {
		o.portals = append(o.portals, fmt.Sprintf("127.22.64.%d:3260", i+1))
	}
	o.shapes = shapes(o.luns, o.qd)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// idle is one attach's figures once every device is ready.
type idle struct {
	devices    int
	ready      time.Duration
	sessions   int
	rss, heap  int64
	goroutines int64
}

// shapes are the loads: 1, 8 and every device busy with one connection
// each and qd reads in flight split between them; then qd connections,
// one read in flight on each, over 1, 8 and every device.
func shapes(luns, qd int) []shape {
	busy := slices.DeleteFunc([]int{1, 8}, func(n int) bool { return n >= luns })
	busy = append(busy, luns)
	var out []shape
	for _, n := range busy {
		out = append(out, shape{devices: n, conns: n, qd: max(1, qd/n)})
	}
	for _, n := range busy {
		out = append(out, shape{devices: n, conns: max(n, qd), qd: 1})
	}
	return out
}

// loadRun is one load run's figures.
type loadRun struct {
	shape
	iops      float64
	gompPerIO time.Duration
	tgtdPerIO time.Duration
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "gomp-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t, err := startTgtd(ctx, o.ctl, o.portals, iqn, o.luns)
	if err != nil {
		return err
	}
	defer t.stop()
	one, _, err := measureIdle(ctx, o, t, dir+"/one", 1, "--lun", "1")
	if err != nil {
		return err
	}
	all, a, err := measureIdle(ctx, o, t, dir+"/all", o.luns, "--nbd-max-connections", fmt.Sprint(max(16, o.qd)))
	if err != nil {
		return err
	}
	defer a.stop()
	runs, err := measureLoad(ctx, o, t, a)
	if err != nil {
		return err
	}
	printTable(o, one, all, runs)
	return nil
}

// measureIdle attaches want devices (extra: gomp attach flags), waits 2 s
// idle and takes its figures. The attach is stopped unless want is every
// LUN; then it is returned running.
func measureIdle(ctx context.Context, o options, t *tgtd, dir string, want int, extra ...string) (idle, *attach, error) {
	a, err := startAttach(ctx, o.gomp, dir, iqn, o.portals, want, extra...)
	if err != nil {
		return idle{}, nil, err
	}
	keep := false
	defer func() {
		if !keep {
			a.stop()
		}
	}()
	v := idle{devices: len(a.devs), ready: a.ready}
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return v, nil, ctx.Err()
	}
	if v.sessions, err = t.nexuses(); err != nil {
		return v, nil, err
	}
	if v.rss, err = rss(a.pid()); err != nil {
		return v, nil, err
	}
	if v.goroutines, v.heap, err = a.goStats(ctx); err != nil {
		return v, nil, err
	}
	keep = want == o.luns
	return v, a, nil
}

// measureLoad runs each load shape in turn, o.rounds times, and returns
// the median run of each.
func measureLoad(ctx context.Context, o options, t *tgtd, a *attach) ([]loadRun, error) {
	all := make([][]loadRun, len(o.shapes))
	for range o.rounds {
		for i, l := range o.shapes {
			r, err := loadOnce(ctx, o, t, a, l)
			if err != nil {
				return nil, err
			}
			all[i] = append(all[i], r)
		}
	}
	var out []loadRun
	for _, rs := range all {
		slices.SortFunc(rs, func(x, y loadRun) int { return int(x.gompPerIO - y.gompPerIO) })
		out = append(out, rs[len(rs)/2])
	}
	return out, nil
}

// loadOnce runs load l and takes the CPU gomp and tgtd spent meanwhile.
func loadOnce(ctx context.Context, o options, t *tgtd, a *attach, l shape) (loadRun, error) {
	g0, err1 := cpuTime(a.pid())
	t0, err2 := cpuTime(t.cmd.Process.Pid)
	start := time.Now()
	ios, err := readLoad(ctx, a.devs, l, o.dur)
	took := time.Since(start)
	g1, err3 := cpuTime(a.pid())
	t1, err4 := cpuTime(t.cmd.Process.Pid)
	for _, e := range []error{err, err1, err2, err3, err4} {
		if e != nil {
			return loadRun{}, e
		}
	}
	if ios == 0 {
		return loadRun{}, fmt.Errorf("no read completed with %+v", l)
	}
	return loadRun{shape: l, iops: float64(ios) / took.Seconds(),
		gompPerIO: (g1 - g0) / time.Duration(ios), tgtdPerIO: (t1 - t0) / time.Duration(ios)}, nil
}

func printTable(o options, one, all idle, runs []loadRun) {
	fmt.Printf("gomp attach: %d null LUNs behind one tgtd target on %d portals\n\n", o.luns, len(o.portals))
	fmt.Println("| attach | devices | ready after | sessions | RSS | Go heap | goroutines |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		v    idle
	}{{"--lun 1", one}, {"every LUN", all}} {
		fmt.Printf("| %s | %d | %.2f s | %d | %.1f MiB | %.1f MiB | %d |\n", r.name, r.v.devices, r.v.ready.Seconds(),
			r.v.sessions, mib(r.v.rss), mib(r.v.heap), r.v.goroutines)
	}
	if d := int64(all.devices - one.devices); d > 0 {
		fmt.Printf("| per added device | | %.1f ms | | %.0f KiB | %.0f KiB | %.1f |\n",
			float64((all.ready-one.ready).Milliseconds())/float64(d), float64((all.rss-one.rss)/d)/1024,
			float64((all.heap-one.heap)/d)/1024, float64(all.goroutines-one.goroutines)/float64(d))
	}
	fmt.Printf("\n4 KiB random reads, %v per run, median of %d rounds (by gomp CPU per I/O); ratios to the series' first row:\n\n",
		o.dur, o.rounds)
	fmt.Println("| busy devices | NBD connections | in flight per connection | IOPS | gomp CPU per I/O | tgtd CPU per I/O | gomp per I/O, ratio |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for i, r := range runs {
		first := runs[i/(len(runs)/2)*(len(runs)/2)] // each half of shapes is a series
		fmt.Printf("| %d | %d | %d | %.1fk | %.1f µs | %.1f µs | %.2f× |\n", r.devices, r.conns, r.qd, r.iops/1000,
			us(r.gompPerIO), us(r.tgtdPerIO), float64(r.gompPerIO)/float64(first.gompPerIO))
	}
}

func mib(b int64) float64        { return float64(b) / (1 << 20) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
