//go:build !linux

package iscsi

import (
	"fmt"
	"syscall"
)

// bindToDevice fails: binding to an interface needs Linux's
// SO_BINDTODEVICE. Bind to the interface's source address instead.
func bindToDevice(ifname string) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return fmt.Errorf("bind to interface %s: only supported on Linux; bind to its source address instead", ifname)
	}
}
