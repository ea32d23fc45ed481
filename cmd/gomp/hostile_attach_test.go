package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/pdu"
)

// hostileVPD83 returns a VPD page 0x83 holding one logical-unit
// designator of the given type (code set ASCII) with id.
func hostileVPD83(typ byte, id []byte) []byte {
	page := []byte{0, 0x83, 0, 0, 0x03, typ & 0x0f, 0, byte(len(id))} // ASCII; LU association
	page = append(page, id...)
	n := len(page) - 4
	page[2], page[3] = byte(n>>8), byte(n)
	return page
}

// hostileTarget serves one LUN whose VPD 0x83 answer is replaced by page,
// on two loopback portals.
func hostileTarget(t *testing.T, page []byte) (iqn, p1, p2 string) {
	const alloc = 1024 // what the initiator asks for (iscsi.Session.inquire)
	rewritten := map[uint32]bool{}
	fix := func(over bool, count *uint32, under *bool) {
		if over {
			*count, *under = uint32(alloc-len(page)), true
		}
	}
	hooks := iscsitest.Hooks{BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		switch d := p.(type) {
		case *pdu.DataIn:
			if len(d.Data) >= 4 && d.Data[1] == 0x83 && d.BufferOffset == 0 {
				d.Data = append([]byte(nil), page...)
				rewritten[d.ITT] = true
				fix(d.StatusValid, &d.ResidualCount, &d.Underflow)
			}
		case *pdu.SCSIResponse:
			fix(rewritten[d.ITT], &d.ResidualCount, &d.Underflow)
			delete(rewritten, d.ITT)
		}
		return iscsitest.Continue
	}}
	tg := iscsitest.New(iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(8192, 512)}, Hooks: hooks})
	t.Cleanup(func() { tg.Close() })
	var portals []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = tg.Listen(ln) }()
		portals = append(portals, ln.Addr().String())
	}
	return tg.Name(), portals[0], portals[1]
}

// filesUnder lists every path below root.
func filesUnder(t *testing.T, root string) []string {
	var out []string
	require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != root {
			out = append(out, p)
		}
		return err
	}))
	return out
}

// noControlBytes fails when s holds a byte a terminal or a line-based
// protocol would act on (other than the line breaks in allowed).
func noControlBytes(t *testing.T, s, what string) {
	t.Helper()
	for _, c := range []byte(s) {
		require.False(t, c < 0x20 && c != '\n' || c == 0x7f, "%s holds byte %#x: %q", what, c, s)
	}
}

// TestAttachHostileVPD83: a target whose VPD 0x83 answer is one
// designator holding a path that climbs out of any directory, line breaks
// with sd_notify assignments, a terminal escape, 255 bytes or non-ASCII
// bytes is attached with a control directory and a NOTIFY_SOCKET: nothing
// is created outside the control directory, stdout has one ready line, the
// notify datagram has no injected field, and status, JSON and metrics stay
// valid; detach by the printed name works.
func TestAttachHostileVPD83(t *testing.T) {
	root := t.TempDir()
	climb := "/../../../../../../../../../.." + root + "/evil/x"
	long := []byte("GOMPVEND")
	for i := 0; len(long) < 255; i++ {
		long = append(long, byte(0x80+i%0x80), '/', '\n', 0x1b)
	}
	cases := []struct {
		name string
		typ  byte
		id   []byte
	}{
		{"T10 path, newline, MAINPID, escape", 0x1, []byte("GOMP    " + climb + "\nMAINPID=1\x1b[2J")},
		{"T10 255 bytes of non-ASCII and control", 0x1, long[:255]},
		{"SCSI name string climbing, STOPPING", 0x8, []byte("iqn.x/../.." + climb + "\r\nSTOPPING=1\nERRNO=5\x00")},
		{"T10 dots only", 0x1, []byte("..      ..")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attachHostile(t, root, hostileVPD83(tc.typ, tc.id))
		})
	}
	require.Empty(t, filesUnder(t, root), "nothing may be created outside the control directories")
}

func attachHostile(t *testing.T, root string, page []byte) {
	iqn, p1, p2 := hostileTarget(t, page)
	msgs := notifyListener(t)
	work := t.TempDir()
	msock := filepath.Join(work, "metrics.sock")
	ctl, _, name, logs := startAttachLogged(t, "--target", iqn, "--portal", p1, "--portal", p2, "--lun", "1",
		"--metrics-listen", "unix:"+msock)
	require.NoError(t, safename.Check(name), "the device name follows the name rule")
	require.NotContains(t, name, "/")

	ready := receive(t, msgs, "READY")
	lines := strings.Split(ready, "\n")
	for _, l := range lines {
		key, _, ok := strings.Cut(l, "=")
		require.True(t, ok, "notify line %q", l)
		require.Contains(t, []string{"READY", "STATUS"}, key, "no injected field in %q", ready)
	}
	require.Len(t, lines, 2, "%q", ready)

	entries, err := os.ReadDir(ctl)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	sock, err := control.SocketPath(ctl, name)
	require.NoError(t, err)
	require.Equal(t, filepath.Base(sock), entries[0].Name())

	code, out, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st, 1)
	require.Equal(t, name, st[0].Device.Name)
	noControlBytes(t, st[0].Device.WWID, "WWID")
	code, out, stderr = runCLI(t, "status", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	noControlBytes(t, out, "gomp status")
	body := scrape(t, msock)
	noControlBytes(t, string(body), "metrics")
	require.Contains(t, string(body), `device="`+name+`"`)
	noControlBytes(t, logs.String(), "logs")

	code, _, stderr = runCLI(t, "detach", name, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); os.IsNotExist(err) {
			break
		}
		require.True(t, time.Now().Before(deadline), "detach did not remove the control socket")
		time.Sleep(20 * time.Millisecond)
	}
	stopping := receive(t, msgs, "STOPPING")
	require.True(t, strings.HasPrefix(stopping, "STOPPING=1\nSTATUS=detaching "), "%q", stopping)
	require.Equal(t, 1, strings.Count(stopping, "\n"), "%q", stopping)
}
