//go:build !linux

package nbd

import "net"

// buffersSized: only Linux kernel socketpairs have forced buffers.
func buffersSized(net.Conn) bool { return false }
