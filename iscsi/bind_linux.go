package iscsi

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// bindToDevice returns a net.Dialer Control hook that binds the socket to
// the network device ifname (SO_BINDTODEVICE, which may need
// CAP_NET_RAW).
func bindToDevice(ifname string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("bind to interface %s: %w", ifname, err)
		}
		return nil
	}
}
