package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/multipath"
)

// pathStates are the values of gomp_path_state's state label:
// PathStatus.State's words.
var pathStates = []string{"active", "ghost", "pending", "failed", "delayed", "disconnected", "refused"}

// Collector is a prometheus.Collector over the statistics of devices.
// It is safe for concurrent scrapes.
type Collector struct {
	stats func() []multipath.DeviceStats
	d     descs
}

// New returns a Collector that calls stats at every scrape, e.g.
//
//	metrics.New(func() []multipath.DeviceStats { return []multipath.DeviceStats{dev.Stats()} })
func New(stats func() []multipath.DeviceStats) *Collector {
	return &Collector{stats: stats, d: newDescs()}
}

type descs struct {
	devInfo, failovers, failbacks, switches, noPathEvents, noPathSeconds, noPathErrors *prometheus.Desc
	usable, queued, queuedTotal                                                        *prometheus.Desc

	up, state, inFlight, io, latency, readBytes, writtenBytes, errs, retried *prometheus.Desc
	failures, reinstatements                                                 *prometheus.Desc

	loggedIn, pdusSent, pdusReceived, dataSent, dataReceived, commands, digestErrors *prometheus.Desc
	nopTimeouts, aborts, connFailures, reconnects, loginFailures                     *prometheus.Desc
}

func newDescs() descs {
	dev := []string{"device"}
	path := []string{"device", "portal"}
	with := func(l ...string) []string { return append(slices.Clone(path), l...) }
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("gomp_"+name, help, labels, nil)
	}
	return descs{
		devInfo:       d("device_info", "A multipath device: its name and WWID.", []string{"device", "wwid"}),
		failovers:     d("device_failovers_total", "Times a path carrying I/O failed while another could take its I/O over.", dev),
		failbacks:     d("device_failbacks_total", "Times I/O came back to a recovered path.", dev),
		switches:      d("device_group_switches_total", "Times I/O moved to another path group.", dev),
		noPathEvents:  d("device_no_path_events_total", "Times the last usable path went.", dev),
		noPathSeconds: d("device_no_path_seconds_total", "Time spent without a usable path.", dev),
		noPathErrors:  d("device_no_path_errors_total", "I/O failed because no path was usable and queueing was off or expired.", dev),
		usable:        d("device_usable_paths", "Paths I/O goes to now.", dev),
		queued:        d("device_queued_ios", "I/O waiting for a usable path now.", dev),
		queuedTotal:   d("device_queued_total", "I/O that had to wait for a usable path.", dev),

		up:             d("path_up", "1 when the path may carry I/O (dm state active), else 0.", path),
		state:          d("path_state", "1 for the path's current state, 0 for the others.", with("state")),
		inFlight:       d("path_in_flight_requests", "Requests in flight on the path.", path),
		io:             d("path_io_total", "Requests completed without error, by operation.", with("op")),
		latency:        d("path_latency_seconds", "Latency of requests completed without error, by operation.", with("op")),
		readBytes:      d("path_read_bytes_total", "Bytes read through the path.", path),
		writtenBytes:   d("path_written_bytes_total", "Bytes written through the path.", path),
		errs:           d("path_errors_total", "Failed requests, by error class.", with("class")),
		retried:        d("path_retried_elsewhere_total", "Requests that failed on the path and were sent again through another.", path),
		failures:       d("path_failures_total", "Times the path was failed.", path),
		reinstatements: d("path_reinstatements_total", "Times the path was put back in use.", path),

		loggedIn:      d("session_logged_in", "1 when the path's iSCSI session is in the full-feature phase, else 0.", path),
		pdusSent:      d("session_pdus_sent_total", "iSCSI PDUs sent, by opcode.", with("opcode")),
		pdusReceived:  d("session_pdus_received_total", "iSCSI PDUs received, by opcode.", with("opcode")),
		dataSent:      d("session_data_sent_bytes_total", "SCSI payload bytes sent (immediate data and Data-Out).", path),
		dataReceived:  d("session_data_received_bytes_total", "SCSI payload bytes received (Data-In).", path),
		commands:      d("session_commands_total", "SCSI commands sent.", path),
		digestErrors:  d("session_digest_errors_total", "Header or data digest mismatches received.", path),
		nopTimeouts:   d("session_nop_timeouts_total", "Connections dropped because a NOP-Out went unanswered.", path),
		aborts:        d("session_task_aborts_total", "ABORT TASK requests sent.", path),
		connFailures:  d("session_connection_failures_total", "Connections lost.", path),
		reconnects:    d("session_reconnects_total", "Session reinstatements that succeeded.", path),
		loginFailures: d("session_login_failures_total", "Reinstatement logins that failed.", path),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.devInfo, d.failovers, d.failbacks, d.switches, d.noPathEvents, d.noPathSeconds,
		d.noPathErrors, d.usable, d.queued, d.queuedTotal, d.up, d.state, d.inFlight, d.io, d.latency,
		d.readBytes, d.writtenBytes, d.errs, d.retried, d.failures, d.reinstatements, d.loggedIn, d.pdusSent,
		d.pdusReceived, d.dataSent, d.dataReceived, d.commands, d.digestErrors, d.nopTimeouts, d.aborts,
		d.connFailures, d.reconnects, d.loginFailures}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect takes a snapshot of every device and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.stats() {
		c.device(ch, &st)
		for i := range st.Paths {
			c.path(ch, st.Name, &st.Paths[i])
			if s := st.Paths[i].Session; s != nil {
				c.session(ch, st.Name, st.Paths[i].Portal, s)
			}
		}
	}
}

// emit sends one gauge or counter.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
}

func (c *Collector) device(ch chan<- prometheus.Metric, st *multipath.DeviceStats) {
	d, n := &c.d, st.Name
	emit(ch, d.devInfo, prometheus.GaugeValue, 1, n, st.WWID)
	emit(ch, d.failovers, prometheus.CounterValue, float64(st.Failovers), n)
	emit(ch, d.failbacks, prometheus.CounterValue, float64(st.Failbacks), n)
	emit(ch, d.switches, prometheus.CounterValue, float64(st.GroupSwitches), n)
	emit(ch, d.noPathEvents, prometheus.CounterValue, float64(st.NoPathEvents), n)
	emit(ch, d.noPathSeconds, prometheus.CounterValue, st.NoPathTime.Seconds(), n)
	emit(ch, d.noPathErrors, prometheus.CounterValue, float64(st.NoPathErrors), n)
	emit(ch, d.usable, prometheus.GaugeValue, float64(st.UsablePaths), n)
	emit(ch, d.queued, prometheus.GaugeValue, float64(st.QueuedIOs), n)
	emit(ch, d.queuedTotal, prometheus.CounterValue, float64(st.QueuedTotal), n)
}

func (c *Collector) path(ch chan<- prometheus.Metric, dev string, p *multipath.PathStats) {
	d, l := &c.d, []string{dev, p.Portal}
	emit(ch, d.up, prometheus.GaugeValue, b2f(p.Up), l...)
	for _, s := range pathStates {
		emit(ch, d.state, prometheus.GaugeValue, b2f(p.State == s), dev, p.Portal, s)
	}
	emit(ch, d.inFlight, prometheus.GaugeValue, float64(p.InFlight), l...)
	emit(ch, d.readBytes, prometheus.CounterValue, float64(p.ReadBytes), l...)
	emit(ch, d.writtenBytes, prometheus.CounterValue, float64(p.WrittenBytes), l...)
	emit(ch, d.retried, prometheus.CounterValue, float64(p.RetriedElsewhere), l...)
	emit(ch, d.failures, prometheus.CounterValue, float64(p.Failures), l...)
	emit(ch, d.reinstatements, prometheus.CounterValue, float64(p.Reinstatements), l...)
	for _, op := range sortedKeys(p.Ops) {
		ls := p.Ops[op]
		emit(ch, d.io, prometheus.CounterValue, float64(ls.Count), dev, p.Portal, op)
		ch <- prometheus.MustNewConstHistogram(d.latency, ls.Count, ls.Sum.Seconds(), cumulative(ls.Buckets),
			dev, p.Portal, op)
	}
	for _, class := range sortedKeys(p.Errors) {
		emit(ch, d.errs, prometheus.CounterValue, float64(p.Errors[class]), dev, p.Portal, class)
	}
}

func (c *Collector) session(ch chan<- prometheus.Metric, dev, portal string, s *iscsi.SessionStats) {
	d, l := &c.d, []string{dev, portal}
	emit(ch, d.loggedIn, prometheus.GaugeValue, b2f(s.State == iscsi.StateLoggedIn.String()), l...)
	for _, op := range sortedKeys(s.PDUsOut) {
		emit(ch, d.pdusSent, prometheus.CounterValue, float64(s.PDUsOut[op]), dev, portal, op)
	}
	for _, op := range sortedKeys(s.PDUsIn) {
		emit(ch, d.pdusReceived, prometheus.CounterValue, float64(s.PDUsIn[op]), dev, portal, op)
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{d.dataSent, s.DataOutBytes}, {d.dataReceived, s.DataInBytes}, {d.commands, s.Commands},
		{d.digestErrors, s.DigestErrors}, {d.nopTimeouts, s.NOPTimeouts}, {d.aborts, s.TaskAborts},
		{d.connFailures, s.ConnectionFailures}, {d.reconnects, s.Reconnects}, {d.loginFailures, s.LoginFailures}} {
		emit(ch, m.d, prometheus.CounterValue, float64(m.v), l...)
	}
}

// cumulative turns LatencyStats buckets into Prometheus' cumulative
// buckets over every bound of multipath.LatencyBuckets, in seconds.
func cumulative(buckets []multipath.LatencyBucket) map[float64]uint64 {
	bounds := multipath.LatencyBuckets()
	out := make(map[float64]uint64, len(bounds))
	var n uint64
	j := 0
	for _, le := range bounds {
		for j < len(buckets) && buckets[j].Le <= le {
			n += buckets[j].Count
			j++
		}
		out[le.Seconds()] = n
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
