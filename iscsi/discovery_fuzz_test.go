package iscsi

import (
	"net"
	"strings"
	"testing"

	"github.com/gomp-dev/gomp/pdu"
)

// FuzzSendTargets parses an arbitrary SendTargets answer (text key=value
// pairs, NUL separated) as Discover does. Whatever the target sends: one
// discovered target per TargetName key, every portal a host:port that
// net.SplitHostPort accepts, every portal group tag -1 (none) or 0..65535.
func FuzzSendTargets(f *testing.F) {
	f.Add([]byte("TargetName=iqn.2001-04.com.example:a\x00TargetAddress=192.0.2.1:3260,1\x00"))
	f.Add([]byte("TargetName=iqn.x\x00TargetAddress=[2001:db8::1]:3260,2\x00TargetAddress=host\x00TargetName=iqn.y\x00"))
	f.Add([]byte("TargetAddress=192.0.2.1\x00"))
	f.Add([]byte("TargetName=iqn.x/../../etc\nMAINPID=1\x1b[2J\x00TargetAddress=a,b,c\x00"))
	f.Add([]byte("TargetName=iqn.x\x00TargetAddress=[x,1]\x00TargetAddress=,5\x00TargetAddress=::1,70000\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kvs, err := pdu.ParseText(data, pdu.TextLimits{})
		if err != nil {
			return
		}
		targets, err := parseSendTargets(kvs, "192.0.2.9:3260")
		if err != nil {
			return
		}
		names := 0
		for _, kv := range kvs {
			if kv.Key == "TargetName" {
				names++
			}
		}
		if len(targets) != names {
			t.Fatalf("%d TargetName keys gave %d targets", names, len(targets))
		}
		for _, tg := range targets {
			if len(tg.Portals) == 0 {
				t.Fatalf("target %q without a portal", tg.Name)
			}
			for _, p := range tg.Portals {
				checkPortal(t, p)
			}
		}
	})
}

// FuzzTargetAddress: a TargetAddress value parses to a host:port that
// net.SplitHostPort accepts with a tag in range, and parsing the address
// it gave again gives the same address.
func FuzzTargetAddress(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "192.0.2.1:3261,7", "[2001:db8::1]", "[2001:db8::1]:99,65535",
		"host.example,1", "[x,1]", ",1", "a:b:c", "::1", "h:,1", "[::1]:3260,", "h\n:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tp, err := parseTargetAddress(v)
		if err != nil {
			return
		}
		checkPortal(t, tp)
		again, err := parseTargetAddress(tp.Addr)
		if err != nil || again.Addr != tp.Addr {
			t.Fatalf("%q gave %q, which parses to %q, %v", v, tp.Addr, again.Addr, err)
		}
	})
}

func checkPortal(t *testing.T, p TargetPortal) {
	t.Helper()
	if p.TPGT < -1 || p.TPGT > 65535 {
		t.Fatalf("portal %q: tag %d out of range", p.Addr, p.TPGT)
	}
	host, port, err := net.SplitHostPort(p.Addr)
	if err != nil || port == "" || strings.ContainsAny(port, "/") {
		t.Fatalf("portal %q: %q %q %v", p.Addr, host, port, err)
	}
	for _, c := range []byte(p.Addr) {
		if c <= ' ' || c >= 0x7f {
			t.Fatalf("portal %q holds byte %#x", p.Addr, c)
		}
	}
}
