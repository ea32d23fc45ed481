package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
)

func main() {
	portal := flag.String("portal", "127.0.0.1:3260", "target portal")
	target := flag.String("target", "iqn.2026-11.dev.gomp:lab", "target IQN")
	lunN := flag.Uint("lun", 1, "LUN")
	bs := flag.Int("bs", 1<<20, "I/O size in bytes")
	qd := flag.Int("qd", 32, "queue depth")
	write := flag.Bool("write", false, "write instead of read")
	random := flag.Bool("random", false, "random offsets instead of sequential")
	dur := flag.Duration("time", 5*time.Second, "run time")
	prof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	procs := flag.Int("procs", 0, "GOMAXPROCS (default $GOMAXPROCS, else half the CPUs, at least 1, as gomp attach)")
	flag.Parse()
	switch {
	case *procs > 0:
		runtime.GOMAXPROCS(*procs)
	case os.Getenv("GOMAXPROCS") == "":
		runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/2))
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "iscsibench:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*portal, *target, uint16(*lunN), *bs, *qd, *write, *random, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "iscsibench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(portal, target string, lunN uint16, bs, qd int, write, random bool, dur time.Duration) error {
	ctx := context.Background()
	s, err := iscsi.Dial(ctx, iscsi.Config{Portal: portal, TargetName: target})
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	lun, err := s.OpenLUN(ctx, lunN)
	if err != nil {
		return err
	}
	blocks := lun.Size() / int64(bs)
	var next, ios atomic.Int64
	start, cpu0 := time.Now(), cpuTime()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	errs := make(chan error, qd)
	for range qd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bs)
			for time.Now().Before(deadline) {
				i := next.Add(1) % blocks
				if random {
					i = rand.Int64N(blocks)
				}
				var err error
				if write {
					_, err = lun.WriteAtContext(ctx, buf, i*int64(bs), false)
				} else {
					_, err = lun.ReadAtContext(ctx, buf, i*int64(bs))
				}
				if err != nil {
					errs <- err
					return
				}
				ios.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	elapsed, cpu := time.Since(start).Seconds(), cpuTime()-cpu0
	n := float64(ios.Load())
	gib := n * float64(bs) / (1 << 30)
	mode := map[bool]string{false: "read", true: "write"}[write]
	if random {
		mode = "rand" + mode
	}
	fmt.Printf("gomp %s bs=%d qd=%d iops=%.0f mbps=%.1f cpu_s_per_gib=%.3f\n",
		mode, bs, qd, n/elapsed, n*float64(bs)/elapsed/1e6, cpu/gib)
	return nil
}

// cpuTime returns the process's user+system CPU seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
