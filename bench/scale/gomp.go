package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// device is one "ready: NAME URI" line of gomp attach.
type device struct{ name, socket string }

// attach is a running gomp attach process.
type attach struct {
	cmd   *exec.Cmd
	dir   string
	devs  []device
	ready time.Duration // from start to the last ready line
	done  chan error
}

// startAttach runs bin attach on target iqn through portals, serving each
// device on a socket under dir, and waits (bounded) for want ready lines.
// Its log goes to dir/gomp.log.
func startAttach(ctx context.Context, bin, dir, iqn string, portals []string, want int, extra ...string) (*attach, error) {
	for _, d := range []string{"socks", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	args := []string{"attach", "--target", iqn, "--initiator-name", "iqn.2026-11.dev.gomp:scale-bench",
		"--listen", "unix:" + filepath.Join(dir, "socks") + "/", "--control-dir", filepath.Join(dir, "ctl"),
		"--metrics-listen", "unix:" + filepath.Join(dir, "metrics.sock")}
	for _, p := range portals {
		args = append(args, "--portal", p)
	}
	a := &attach{dir: dir, done: make(chan error, 1)}
	a.cmd = exec.Command(bin, append(args, extra...)...)
	a.cmd.Env = append(os.Environ(), "GOMP_STATE_DIR="+filepath.Join(dir, "state"))
	log, err := os.Create(filepath.Join(dir, "gomp.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	a.cmd.Stderr = log
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	if err := a.waitReady(ctx, out, want, start); err != nil {
		a.stop()
		return nil, fmt.Errorf("%w (log: %s)", err, log.Name())
	}
	return a, nil
}

// waitReady reads ready lines until want devices are ready, the process
// ends, ctx ends or a minute passes.
func (a *attach) waitReady(ctx context.Context, out io.Reader, want int, start time.Time) error {
	lines := make(chan device)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if d, ok := parseReady(sc.Text()); ok {
				lines <- d
			}
		}
		a.done <- a.cmd.Wait()
	}()
	timeout := time.After(time.Minute)
	for len(a.devs) < want {
		select {
		case d := <-lines:
			a.devs = append(a.devs, d)
		case err := <-a.done:
			a.done <- err
			return fmt.Errorf("gomp attach ended with %d of %d devices ready: %v", len(a.devs), want, err)
		case <-timeout:
			return fmt.Errorf("gomp attach: %d of %d devices ready after a minute", len(a.devs), want)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a.ready = time.Since(start)
	return nil
}

func parseReady(line string) (device, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "ready:" {
		return device{}, false
	}
	u, err := url.Parse(f[2])
	if err != nil {
		return device{}, false
	}
	return device{name: f[1], socket: u.Query().Get("socket")}, true
}

func (a *attach) pid() int { return a.cmd.Process.Pid }

// stop sends SIGTERM to gomp attach by its pid (it detaches and logs
// out), and SIGKILL if it has not ended within 30 s.
func (a *attach) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		a.done <- err
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// goStats reads go_goroutines and go_memstats_heap_inuse_bytes from the
// process's metrics socket.
func (a *attach) goStats(ctx context.Context) (goroutines, heap int64, err error) {
	sock := filepath.Join(a.dir, "metrics.sock")
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://gomp/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	vals := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, _ := strings.Cut(sc.Text(), " ")
		if name != "go_goroutines" && name != "go_memstats_heap_inuse_bytes" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("metrics: %s %q: %w", name, v, err)
		}
		vals[name] = int64(f)
	}
	if len(vals) != 2 {
		return 0, 0, errors.New("metrics: no go_goroutines or go_memstats_heap_inuse_bytes")
	}
	return vals["go_goroutines"], vals["go_memstats_heap_inuse_bytes"], sc.Err()
}
