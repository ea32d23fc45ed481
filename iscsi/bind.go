package iscsi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Binding ties a session's TCP connections to one network interface or one
// local source address, as open-iscsi's iface records do
// (iface.net_ifacename, iface.ipaddress): on a host with one NIC per
// storage subnet, each path must leave through its own NIC. The zero
// value binds nothing and lets the routing table choose.
type Binding struct {
	// Interface is a network device name (SO_BINDTODEVICE, Linux only).
	Interface string
	// Source is the local address to bind, when valid.
	Source netip.Addr
}

// IsZero reports whether b binds nothing.
func (b Binding) IsZero() bool { return b.Interface == "" && !b.Source.IsValid() }

// String returns the interface name or source address, "" for none.
func (b Binding) String() string {
	if b.Interface != "" {
		return b.Interface
	}
	if b.Source.IsValid() {
		return b.Source.String()
	}
	return ""
}

// ErrBinding is wrapped by Binding.Check's errors.
var ErrBinding = errors.New("iscsi: bad path binding")

// Check verifies that the interface exists or that the host owns the source
// address, so that a typo is an error naming it rather than a path that
// never comes up.
func (b Binding) Check() error {
	if b.Interface != "" {
		if _, err := net.InterfaceByName(b.Interface); err != nil {
			return fmt.Errorf("%w: no network interface %q on this host", ErrBinding, b.Interface)
		}
	}
	if !b.Source.IsValid() {
		return nil
	}
	// The host owns an address when the kernel lets a socket bind to it
	// (an interface's address, anything in 127/8, a nonlocal bind).
	c, err := net.ListenPacket("udp", netip.AddrPortFrom(b.Source, 0).String())
	if err != nil {
		return fmt.Errorf("%w: %s is not an address of this host", ErrBinding, b.Source)
	}
	c.Close()
	return nil
}

// Dialer returns a net.Dialer that opens connections through b.
func (b Binding) Dialer() *net.Dialer {
	d := &net.Dialer{}
	if b.Source.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(b.Source, 0))
	}
	if b.Interface != "" {
		d.Control = bindToDevice(b.Interface)
	}
	return d
}

// DialContext connects to addr through b. Errors name the binding, so a
// path bound to the wrong interface says which.
func (b Binding) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := b.Dialer().DialContext(ctx, network, addr)
	if err != nil && !b.IsZero() {
		return nil, fmt.Errorf("via %s: %w", b, err)
	}
	return c, err
}

// ParsePortal splits a portal as gomp's command line and node records
// write it, HOST[:PORT][@IFACE] or HOST[:PORT][@SOURCE_IP] (IPv6 as
// [ADDR]:PORT@IFACE), into the "host:port" address (port 3260 when
// absent) and its Binding.
func ParsePortal(s string) (addr string, b Binding, err error) {
	host, bind, found := cutLast(s, "@")
	if host == "" {
		return "", b, fmt.Errorf("portal %q: empty address", s)
	}
	if found {
		switch {
		case bind == "":
			return "", b, fmt.Errorf("portal %q: empty interface or source address after @", s)
		case validAddr(bind):
			b.Source, _ = netip.ParseAddr(bind)
		case validIfName(bind):
			b.Interface = bind
		default:
			return "", b, fmt.Errorf("portal %q: %q is neither an IP address nor an interface name", s, bind)
		}
	}
	addr = withPort(host)
	h, port, err := net.SplitHostPort(addr)
	if err != nil || h == "" || port == "" {
		return "", Binding{}, fmt.Errorf("portal %q: want HOST[:PORT][@IFACE|@SOURCE_IP]", s)
	}
	return addr, b, nil
}

// JoinPortal is ParsePortal's inverse.
func JoinPortal(addr string, b Binding) string {
	if b.IsZero() {
		return addr
	}
	return addr + "@" + b.String()
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func validAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// validIfName follows the kernel's dev_valid_name: 1 to 15 bytes, not "."
// or "..", no '/', ':' or white space.
func validIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\v\f")
}
