package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/multipath"
)

// watchFlags are gomp status's --watch and --interval.
type watchFlags struct {
	watch    bool
	interval time.Duration
}

func (w *watchFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&w.watch, "watch", false, "redraw every --interval, with per-path IOPS, throughput and latency since the last refresh (with --json: one JSON object per line and interval)")
	f.DurationVar(&w.interval, "interval", 2*time.Second, "refresh interval for --watch")
}

// watchFrame is one refresh of gomp status --watch --json: the rates of
// every device over the interval that ends at Time. Its JSON is stable.
type watchFrame struct {
	Time     time.Time     `json:"time"`
	Devices  []watchDevice `json:"devices"`
	Interval time.Duration `json:"interval_ns"` // what the rates are over (for the first frame, since attach)
}

// watchDevice is one device in a watchFrame.
type watchDevice struct {
	Name        string      `json:"name"`
	WWID        string      `json:"wwid"`
	UsablePaths int         `json:"usable_paths"`
	QueuedIOs   int64       `json:"queued_ios"`
	Failovers   uint64      `json:"failovers"` // in the interval
	Paths       []watchPath `json:"paths"`
}

// watchPath is one path's activity over the interval.
type watchPath struct {
	Portal           string        `json:"portal"`
	State            string        `json:"state"`
	InFlight         int64         `json:"in_flight"`
	IOs              uint64        `json:"ios"` // completed in the interval
	IOPS             float64       `json:"iops"`
	ReadBPS          float64       `json:"read_bytes_per_second"`
	WriteBPS         float64       `json:"written_bytes_per_second"`
	LatencyAvg       time.Duration `json:"latency_avg_ns"` // mean over the interval's I/Os; 0 without any
	Errors           uint64        `json:"errors"`         // in the interval
	RetriedElsewhere uint64        `json:"retried_elsewhere"`
}

// watcher samples the attached devices and turns two samples into rates.
type watcher struct {
	cmd  *cobra.Command
	dir  string
	args []string
	prev map[string]control.Stats // by device name
}

// runWatch redraws gomp status every interval until the command's
// context ends (Ctrl-C): in text, the status of each device and a table
// of per-path rates; with asJSON, one watchFrame per line.
func runWatch(cmd *cobra.Command, dir string, args []string, asJSON bool, interval time.Duration) error {
	if interval <= 0 {
		return usagef("--interval %v: want a positive duration", interval)
	}
	w := &watcher{cmd: cmd, dir: dir, args: args, prev: map[string]control.Stats{}}
	out := cmd.OutOrStdout()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		statuses, frame, err := w.sample()
		if err != nil {
			return err
		}
		if asJSON {
			err = json.NewEncoder(out).Encode(frame)
		} else {
			err = drawWatch(out, interval, statuses, frame)
		}
		if err != nil {
			return err
		}
		select {
		case <-cmd.Context().Done():
			return nil
		case <-tick.C:
		}
	}
}

// sample fetches status and statistics of every device and computes the
// rates since the previous sample (for a device seen first, since it
// was attached).
func (w *watcher) sample() ([]control.Status, watchFrame, error) {
	frame := watchFrame{Time: time.Now(), Devices: []watchDevice{}}
	names, err := namesFor(w.cmd.Context(), w.dir, w.args)
	if err != nil {
		return nil, frame, err
	}
	var statuses []control.Status
	next := map[string]control.Stats{}
	for _, n := range names {
		c := control.NewClient(w.dir, n)
		st, err := c.Status(w.cmd.Context())
		if err != nil {
			return nil, frame, err
		}
		cur, err := c.Stats(w.cmd.Context())
		if err != nil {
			return nil, frame, err
		}
		prev, ok := w.prev[n]
		if !ok {
			prev = control.Stats{Device: multipath.DeviceStats{Time: cur.Started}}
		}
		frame.Devices = append(frame.Devices, rates(prev.Device, cur.Device))
		frame.Interval = max(frame.Interval, cur.Device.Time.Sub(prev.Device.Time))
		statuses, next[n] = append(statuses, st), cur
	}
	w.prev = next
	return statuses, frame, nil
}

// rates compares two snapshots of a device.
func rates(prev, cur multipath.DeviceStats) watchDevice {
	secs := cur.Time.Sub(prev.Time).Seconds()
	d := watchDevice{Name: cur.Name, WWID: cur.WWID, UsablePaths: cur.UsablePaths, QueuedIOs: cur.QueuedIOs,
		Failovers: cur.Failovers - prev.Failovers, Paths: []watchPath{}}
	before := map[string]multipath.PathStats{}
	for _, p := range prev.Paths {
		before[p.Portal] = p
	}
	for _, p := range cur.Paths {
		b := before[p.Portal]
		wp := watchPath{Portal: p.Portal, State: p.State, InFlight: p.InFlight, IOs: p.IOs - b.IOs,
			Errors: sumErrors(p.Errors) - sumErrors(b.Errors), RetriedElsewhere: p.RetriedElsewhere - b.RetriedElsewhere}
		if secs > 0 {
			wp.IOPS = float64(wp.IOs) / secs
			wp.ReadBPS = float64(p.ReadBytes-b.ReadBytes) / secs
			wp.WriteBPS = float64(p.WrittenBytes-b.WrittenBytes) / secs
		}
		if n := p.Latency.Count - b.Latency.Count; n > 0 {
			wp.LatencyAvg = (p.Latency.Sum - b.Latency.Sum) / time.Duration(n)
		}
		d.Paths = append(d.Paths, wp)
	}
	return d
}

func sumErrors(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// drawWatch draws one text frame: a cleared terminal (or, into a pipe or
// file, a blank line between frames), a header like watch(1)'s, then
// each device's status and its path rates.
func drawWatch(out io.Writer, interval time.Duration, statuses []control.Status, frame watchFrame) error {
	if isTerminal(out) {
		fmt.Fprint(out, "\x1b[H\x1b[2J")
	} else {
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "Every %v: gomp status\t%s\n\n", interval, frame.Time.Format(time.DateTime))
	if len(statuses) == 0 {
		fmt.Fprintln(out, "no device attached")
	}
	for i, st := range statuses {
		printStatus(out, st)
		tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tportal\tstate\tIOPS\tread/s\twrite/s\tlatency\terrors\tin flight\t")
		for _, p := range frame.Devices[i].Paths {
			lat := "-"
			if p.IOs > 0 {
				lat = roundLatency(p.LatencyAvg).String()
			}
			fmt.Fprintf(tw, "\t%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t\n", p.Portal, p.State, p.IOPS,
				humanBytes(int64(p.ReadBPS)), humanBytes(int64(p.WriteBPS)), lat, p.Errors, p.InFlight)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	return nil
}

// isTerminal reports whether w is a character device, such as a
// terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
