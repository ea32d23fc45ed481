// Package metrics exposes multipath devices' statistics (Device.Stats)
// as Prometheus metrics. The Collector reads a snapshot at scrape time:
// the I/O path never calls into Prometheus.
//
// Metric names follow the Prometheus conventions (base units, _total on
// counters, _seconds and _bytes suffixes); every series carries the
// device label, path and session series the portal label too:
//
//	gomp_device_info{device,wwid}                      1
//	gomp_device_failovers_total, _failbacks_total, _group_switches_total
//	gomp_device_no_path_events_total, _no_path_seconds_total, _no_path_errors_total
//	gomp_device_usable_paths, _queued_ios (gauges), _queued_total
//	gomp_path_up, gomp_path_state{state}, gomp_path_in_flight_requests
//	gomp_path_io_total{op}, gomp_path_latency_seconds{op} (histogram)
//	gomp_path_read_bytes_total, gomp_path_written_bytes_total
//	gomp_path_errors_total{class}, gomp_path_retried_elsewhere_total
//	gomp_path_failures_total, gomp_path_reinstatements_total
//	gomp_session_logged_in, gomp_session_pdus_sent_total{opcode}, _pdus_received_total{opcode}
//	gomp_session_data_sent_bytes_total, _data_received_bytes_total, _commands_total
//	gomp_session_digest_errors_total, _nop_timeouts_total, _task_aborts_total
//	gomp_session_connection_failures_total, _reconnects_total, _login_failures_total
//
// Serve exposes them, with the Go runtime and process collectors, at
// /metrics on a TCP address or a private Unix socket (gomp attach
// --metrics-listen); Devices is the list of devices a process serves.
//
// Not implemented: native (sparse) histograms; a per-device aggregate of
// the path series (sum them in PromQL).
package metrics
