// Package control is the control API of a running gomp attach: one HTTP
// server per attached device on a private Unix socket DIR/NAME.sock
// (package unixsock: mode 0600, root and the owner only), and the typed
// Client every other gomp subcommand uses to reach it.
//
// The routes, all answering JSON:
//
//	GET  /status                         Status (gomp status --json, stable)
//	GET  /stats                          Stats (gomp stats --json, stable)
//	POST /path/fail?portal=P             fail a path by hand
//	POST /path/reinstate?portal=P        reinstate it
//	POST /queueing/disable|restore       multipathd disablequeueing / restorequeueing
//	POST /group/switch?index=I           multipathd switchgroup (0-based)
//	POST /detach                         stop the gomp attach
//	POST /rescan                         RescanReport
//	POST /resize                         ResizeResult
//	POST /persist/in?sa=N                PERSISTENT RESERVE IN parameter data
//	POST /persist/out?sa=&type=&rk=&sark=&aptpl=
//
// A request that fails answers a non-200 status whose body is the error
// message; the Client returns it as an error naming the device.
package control
