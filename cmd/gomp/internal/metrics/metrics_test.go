package metrics

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/multipath"
)

// sample is a device with one healthy path (with its session) and one
// failed path that never logged in.
func sample() multipath.DeviceStats {
	lat := multipath.LatencyStats{Count: 10, Sum: 3 * time.Millisecond, P50: 250 * time.Microsecond,
		Buckets: []multipath.LatencyBucket{{Le: 1 << 18, Count: 4}, {Le: 1 << 19, Count: 6}}}
	zero := multipath.LatencyStats{}
	errs := map[string]uint64{"transport": 0, "path": 0, "target": 1, "retryable": 0, "rejected": 0,
		"invalid": 0, "canceled": 0}
	return multipath.DeviceStats{Name: "data", WWID: "36001405aa", Failovers: 2, Failbacks: 1, GroupSwitches: 3,
		NoPathEvents: 1, NoPathTime: 1500 * time.Millisecond, UsablePaths: 1, QueuedIOs: 0, QueuedTotal: 4,
		Paths: []multipath.PathStats{
			{Portal: "10.0.0.1:3260", State: "active", Up: true, InFlight: 3, IOs: 10, ReadBytes: 40960,
				WrittenBytes: 8192, Latency: lat, Errors: errs,
				Ops: map[string]multipath.LatencyStats{"read": lat, "write": zero, "flush": zero, "unmap": zero,
					"write_zeroes": zero},
				Session: &iscsi.SessionStats{Portal: "10.0.0.1:3260", State: "logged-in",
					PDUsOut:  map[string]uint64{"scsi_command": 11, "login_request": 2},
					PDUsIn:   map[string]uint64{"data_in": 10, "scsi_response": 1, "login_response": 2},
					Commands: 11, DataInBytes: 40960, DataOutBytes: 8192, Reconnects: 1}},
			{Portal: "10.0.0.2:3260@eth1", State: "failed", Failures: 2, RetriedElsewhere: 5, Errors: errs,
				Ops: map[string]multipath.LatencyStats{"read": zero}, LastError: "connection refused"},
		}}
}

func newSample() *Collector {
	return New(func() []multipath.DeviceStats { return []multipath.DeviceStats{sample()} })
}

func TestCollectorValues(t *testing.T) {
	const want = `
# HELP gomp_device_failovers_total Times a path carrying I/O failed while another could take its I/O over.
# TYPE gomp_device_failovers_total counter
gomp_device_failovers_total{device="data"} 2
# HELP gomp_device_no_path_seconds_total Time spent without a usable path.
# TYPE gomp_device_no_path_seconds_total counter
gomp_device_no_path_seconds_total{device="data"} 1.5
# HELP gomp_path_up 1 when the path may carry I/O (dm state active), else 0.
# TYPE gomp_path_up gauge
gomp_path_up{device="data",portal="10.0.0.1:3260"} 1
gomp_path_up{device="data",portal="10.0.0.2:3260@eth1"} 0
# HELP gomp_path_retried_elsewhere_total Requests that failed on the path and were sent again through another.
# TYPE gomp_path_retried_elsewhere_total counter
gomp_path_retried_elsewhere_total{device="data",portal="10.0.0.1:3260"} 0
gomp_path_retried_elsewhere_total{device="data",portal="10.0.0.2:3260@eth1"} 5
# HELP gomp_session_pdus_sent_total iSCSI PDUs sent, by opcode.
# TYPE gomp_session_pdus_sent_total counter
gomp_session_pdus_sent_total{device="data",opcode="login_request",portal="10.0.0.1:3260"} 2
gomp_session_pdus_sent_total{device="data",opcode="scsi_command",portal="10.0.0.1:3260"} 11
`
	require.NoError(t, testutil.CollectAndCompare(newSample(), strings.NewReader(want),
		"gomp_device_failovers_total", "gomp_device_no_path_seconds_total", "gomp_path_up",
		"gomp_path_retried_elsewhere_total", "gomp_session_pdus_sent_total"))

	// One state series per state word, one of them 1.
	require.Equal(t, 2*len(pathStates), testutil.CollectAndCount(newSample(), "gomp_path_state"))
	// Every operation and error class of both paths; session series only
	// for the path that has a session.
	require.Equal(t, 5+1, testutil.CollectAndCount(newSample(), "gomp_path_io_total"))
	require.Equal(t, 2*7, testutil.CollectAndCount(newSample(), "gomp_path_errors_total"))
	require.Equal(t, 1, testutil.CollectAndCount(newSample(), "gomp_session_reconnects_total"))
}

// The latency histogram's buckets are cumulative over every bound.
func TestCollectorHistogram(t *testing.T) {
	out, err := testutil.CollectAndFormat(newSample(), expfmt.TypeTextPlain, "gomp_path_latency_seconds")
	require.NoError(t, err)
	text := string(out)
	read := `device="data",op="read",portal="10.0.0.1:3260"`
	for _, line := range []string{
		`gomp_path_latency_seconds_bucket{` + read + `,le="0.000131072"} 0`,
		`gomp_path_latency_seconds_bucket{` + read + `,le="0.000262144"} 4`,
		`gomp_path_latency_seconds_bucket{` + read + `,le="0.000524288"} 10`,
		`gomp_path_latency_seconds_bucket{` + read + `,le="137.438953472"} 10`,
		`gomp_path_latency_seconds_bucket{` + read + `,le="+Inf"} 10`,
		`gomp_path_latency_seconds_sum{` + read + `} 0.003`,
		`gomp_path_latency_seconds_count{` + read + `} 10`,
	} {
		require.Contains(t, text, line+"\n")
	}
	require.Equal(t, len(multipath.LatencyBuckets())+1,
		strings.Count(text, `gomp_path_latency_seconds_bucket{`+read))
}

func TestCollectorLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(newSample())
	require.NoError(t, err)
	require.Empty(t, problems)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(newSample()), "descriptions are consistent")
	_, err = reg.Gather()
	require.NoError(t, err, "metrics match their descriptions")
}

// promtool, Prometheus' own checker, accepts the exposition.
func TestCollectorPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	out, err := testutil.CollectAndFormat(newSample(), expfmt.TypeTextPlain)
	require.NoError(t, err)
	require.NoError(t, PromtoolCheck(promtool, out))
}

func TestPromtoolCheckReportsProblems(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	bad := []byte("# TYPE gomp_bad counter\ngomp_bad 1\n")
	err = PromtoolCheck(promtool, bad)
	require.ErrorContains(t, err, "_total")
}
