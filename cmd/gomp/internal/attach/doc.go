// Package attach is the lifecycle of what gomp attach exports: a
// multipath device served over NBD to the kernel (/dev/nbdN, kept served
// by a supervisor that hands the kernel new sockets when its connections
// die) and/or on NBD sockets, mounted when asked, reachable on its
// control socket (package control), followed when it grows, joined by the
// devices of new LUNs when its target is rescanned, and taken down in
// reverse order on detach: unmount, disconnect, drain, flush, log out.
//
// The command line (flags, node records, identity, the multipath
// configuration) stays in cmd/gomp, which opens the devices and hands
// them to Export and Serve.
package attach
