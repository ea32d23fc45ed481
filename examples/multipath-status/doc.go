// Multipath-status builds a multipath device over the paths to one LUN and
// prints its status (path groups, paths and their states) at start and
// again whenever something changes (Config.OnEvent), until Ctrl-C.
//
// Against the project's lab (make lab-up; the defaults are the lab's):
//
//	go run ./examples/multipath-status
//
// To watch a failover, cut the second portal from another shell (as root),
// then restore it:
//
//	nft add table inet cut
//	nft add chain inet cut out '{ type filter hook output priority 0; }'
//	nft add rule inet cut out ip daddr 127.0.0.2 tcp dport 3260 drop
//	nft delete table inet cut
//
// The path is failed within a few seconds (NOP timeout) and reinstated by
// the checker at its next -polling round after the table is deleted.
//
// It uses package multipath (Open, Config.OnEvent, Device.Status); see that
// package for the multipath-tools behaviour it implements. Not
// implemented: reading multipath.conf, and the path and queueing controls
// (FailPath, SwitchGroup, DisableQueueing).
package main
