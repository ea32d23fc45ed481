package iscsi

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePortal(t *testing.T) {
	tests := []struct {
		in, addr, iface, src string
	}{
		{in: "198.18.0.1", addr: "198.18.0.1:3260"},
		{in: "198.18.0.1:3261", addr: "198.18.0.1:3261"},
		{in: "198.18.0.1@eth1", addr: "198.18.0.1:3260", iface: "eth1"},
		{in: "198.18.0.1:3260@veth-a0", addr: "198.18.0.1:3260", iface: "veth-a0"},
		{in: "198.18.0.1@198.18.0.2", addr: "198.18.0.1:3260", src: "198.18.0.2"},
		{in: "san.example:3262@bond0.100", addr: "san.example:3262", iface: "bond0.100"},
		{in: "[2001:db8::1]:3260@eth0", addr: "[2001:db8::1]:3260", iface: "eth0"},
		{in: "[2001:db8::1]@2001:db8::2", addr: "[2001:db8::1]:3260", src: "2001:db8::2"},
		{in: "2001:db8::1", addr: "[2001:db8::1]:3260"},
		{in: "[fe80::1]:3260@fe80::2%eth0", addr: "[fe80::1]:3260", src: "fe80::2%eth0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addr, b, err := ParsePortal(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.addr, addr)
			require.Equal(t, tt.iface, b.Interface)
			if tt.src == "" {
				require.False(t, b.Source.IsValid())
			} else {
				require.Equal(t, netip.MustParseAddr(tt.src), b.Source)
			}
			// JoinPortal round-trips.
			addr2, b2, err := ParsePortal(JoinPortal(addr, b))
			require.NoError(t, err)
			require.Equal(t, addr, addr2)
			require.Equal(t, b, b2)
		})
	}
}

func TestParsePortalErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "empty address",
		"@eth0":                            "empty address",
		"198.18.0.1@":                      "empty interface or source address",
		"198.18.0.1@a/b":                   "neither an IP address nor an interface name",
		"198.18.0.1@averyveryverylongname": "neither an IP address nor an interface name",
		"198.18.0.1@eth0:1":                "neither an IP address nor an interface name",
		"[::1:3260":                        "want HOST[:PORT]",
	} {
		_, _, err := ParsePortal(in)
		require.ErrorContains(t, err, want, "portal %q", in)
	}
}

func TestBindingCheck(t *testing.T) {
	lo := loopbackName(t)
	require.NoError(t, Binding{Interface: lo}.Check())
	require.NoError(t, Binding{Source: netip.MustParseAddr("127.0.0.1")}.Check())
	require.NoError(t, Binding{}.Check())

	err := Binding{Interface: "gomp-nonesuch"}.Check()
	require.ErrorIs(t, err, ErrBinding)
	require.ErrorContains(t, err, `no network interface "gomp-nonesuch"`)

	err = Binding{Source: netip.MustParseAddr("198.19.255.254")}.Check()
	require.ErrorIs(t, err, ErrBinding)
	require.ErrorContains(t, err, "198.19.255.254 is not an address of this host")
}

// TestBindingDial dials a loopback listener through a source address and
// through the loopback device, and fails through a device that does not
// exist with an error naming it.
func TestBindingDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	peers := make(chan net.Addr, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr()
			c.Close()
		}
	}()
	ctx := context.Background()

	c, err := Binding{Source: netip.MustParseAddr("127.0.0.2")}.DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	c.Close()
	require.Equal(t, "127.0.0.2", (<-peers).(*net.TCPAddr).IP.String(), "the connection must come from the bound source address")

	if os.Geteuid() == 0 { // SO_BINDTODEVICE needs CAP_NET_RAW
		c, err = Binding{Interface: loopbackName(t)}.DialContext(ctx, "tcp", ln.Addr().String())
		require.NoError(t, err)
		c.Close()
		<-peers

		_, err = Binding{Interface: "gomp-nonesuch"}.DialContext(ctx, "tcp", ln.Addr().String())
		require.ErrorContains(t, err, "via gomp-nonesuch")
		require.ErrorContains(t, err, "bind to interface gomp-nonesuch")
	}
}

// loopbackName returns the loopback interface's name ("lo" on Linux).
func loopbackName(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Name
		}
	}
	t.Skip("no loopback interface")
	return ""
}
