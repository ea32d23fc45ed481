package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/multipath"
)

// newStatsCmd builds "gomp stats [--json] [NAME]".
func newStatsCmd(g *globalOpts) *cobra.Command {
	var (
		asJSON bool
		dir    string
	)
	cmd := &cobra.Command{
		Use:   "stats [--json] [NAME]",
		Short: "Show I/O, error, latency, failover and iSCSI session counters (iscsiadm -m session -s)",
		Long: `stats prints the counters of an attached device (every device without NAME):
per path the I/Os, bytes, latency percentiles, errors by class and I/O retried on
another path; per device the failovers, failbacks and time without a usable
path; per iSCSI session the PDUs by opcode, digest errors, NOP timeouts, task
aborts, reconnects and the last login error. Counters run from gomp attach.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := fetchEach(cmd.Context(), dir, args, (*control.Client).Stats)
			if err != nil {
				return err
			}
			return printEach(cmd.OutOrStdout(), all, asJSON, func(w io.Writer, st control.Stats) {
				printStats(w, st.Device)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (a list of devices; fields in the README)")
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	return cmd
}

// printStats prints one device's counters.
func printStats(w io.Writer, d multipath.DeviceStats) {
	fmt.Fprintf(w, "%s (%s)\n", d.Name, d.WWID)
	fmt.Fprintf(w, "  failovers=%d failbacks=%d group_switches=%d usable_paths=%d\n",
		d.Failovers, d.Failbacks, d.GroupSwitches, d.UsablePaths)
	fmt.Fprintf(w, "  no_path: events=%d time=%v now=%v errors=%d; queued: now=%d total=%d\n",
		d.NoPathEvents, d.NoPathTime.Round(time.Millisecond), d.NoPath, d.NoPathErrors, d.QueuedIOs, d.QueuedTotal)
	for _, p := range d.Paths {
		printPathStats(w, p)
	}
}

func printPathStats(w io.Writer, p multipath.PathStats) {
	fmt.Fprintf(w, "  path %s %s in_flight=%d\n", p.Portal, p.State, p.InFlight)
	fmt.Fprintf(w, "    ios=%d (", p.IOs)
	for i, op := range sortedOps(p.Ops) {
		if i > 0 {
			fmt.Fprint(w, " ")
		}
		fmt.Fprintf(w, "%s=%d", op, p.Ops[op].Count)
	}
	fmt.Fprintf(w, ") bytes_read=%s bytes_written=%s\n", humanBytes(int64(p.ReadBytes)), humanBytes(int64(p.WrittenBytes)))
	fmt.Fprintf(w, "    latency %s", latencyLine(p.Latency))
	for _, op := range []string{"read", "write"} {
		if l, ok := p.Ops[op]; ok && l.Count > 0 {
			fmt.Fprintf(w, "; %s %s", op, latencyLine(l))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "    errors %s retried_elsewhere=%d failures=%d reinstatements=%d\n",
		counts(p.Errors), p.RetriedElsewhere, p.Failures, p.Reinstatements)
	if p.LastError != "" {
		fmt.Fprintf(w, "    last error: %s\n", p.LastError)
	}
	if p.Session != nil {
		printSessionStats(w, p.Session)
	}
}

// printSessionStats prints a session's counters the way iscsiadm -m
// session -s groups them.
func printSessionStats(w io.Writer, s *iscsi.SessionStats) {
	fmt.Fprintf(w, "    session %s isid=%s tsih=%d commands=%d data_in=%s data_out=%s\n",
		s.State, s.ISID, s.TSIH, s.Commands, humanBytes(int64(s.DataInBytes)), humanBytes(int64(s.DataOutBytes)))
	fmt.Fprintf(w, "      pdus_out %s\n", counts(s.PDUsOut))
	fmt.Fprintf(w, "      pdus_in  %s\n", counts(s.PDUsIn))
	fmt.Fprintf(w, "      digest_errors=%d nop_timeouts=%d task_aborts=%d connection_failures=%d reconnects=%d login_failures=%d\n",
		s.DigestErrors, s.NOPTimeouts, s.TaskAborts, s.ConnectionFailures, s.Reconnects, s.LoginFailures)
	if s.LastLoginError != "" {
		fmt.Fprintf(w, "      last login error: %s\n", s.LastLoginError)
	}
}

func latencyLine(l multipath.LatencyStats) string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50=%v p90=%v p99=%v", roundLatency(l.P50), roundLatency(l.P90), roundLatency(l.P99))
}

// roundLatency keeps three significant digits or so.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

// counts prints k=v pairs in key order.
func counts(m map[string]uint64) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// opOrder is the order operations are printed in.
var opOrder = []string{"read", "write", "flush", "unmap", "write_zeroes"}

func sortedOps(m map[string]multipath.LatencyStats) []string {
	return slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Compare(opIndex(a), opIndex(b))
	})
}

func opIndex(op string) int {
	if i := slices.Index(opOrder, op); i >= 0 {
		return i
	}
	return len(opOrder)
}
