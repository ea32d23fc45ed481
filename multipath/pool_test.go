package multipath

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
)

// liveConns counts the connections a target serves now (one per session:
// MaxConnections is 1).
func liveConns(tg *iscsitest.Target) int {
	n := 0
	for _, c := range tg.Conns() {
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

// waitConns polls, with a bound, until tg serves want connections.
func waitConns(t *testing.T, tg *iscsitest.Target, want int) {
	t.Helper()
	require.Eventually(t, func() bool { return liveConns(tg) == want }, 10*time.Second, 5*time.Millisecond,
		"connections: want %d, have %d", want, liveConns(tg))
}

// OpenAll attaches every LUN of a target as one device per WWID, over one
// session per portal shared by all of them, grouping paths by WWID even
// where a portal numbers a LUN differently; a session is logged out when
// its last device closes.
func TestOpenAllSharesSessions(t *testing.T) {
	const name = "iqn.2026-11.dev.gomp:pool"
	luns := make([]*iscsitest.LUN, 4)
	for i := range luns {
		luns[i] = iscsitest.NewLUN(8192, 512).SetIdentity(uint64(100 + i))
	}
	tgA, a := serveTarget(t, iscsitest.Config{Name: name,
		LUNs: map[uint16]*iscsitest.LUN{1: luns[0], 2: luns[1], 3: luns[2], 4: luns[3]}})
	tgB, b := serveTarget(t, iscsitest.Config{Name: name, // LUN 4 is LUN 9 here
		LUNs: map[uint16]*iscsitest.LUN{1: luns[0], 2: luns[1], 3: luns[2], 9: luns[3]}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := &SessionPool{}
	devs, err := OpenAll(ctx, Config{Target: name, Portals: []string{a, b}, Pool: pool, LoginTimeout: 2 * time.Second,
		Settings: Settings{PollingInterval: time.Second}}, nil)
	require.NoError(t, err)
	require.Len(t, devs, 4)
	require.Equal(t, 2, pool.Sessions())
	waitConns(t, tgA, 1)
	waitConns(t, tgB, 1)

	for i, d := range devs {
		require.Equal(t, luns[i].Serial(), d.Info().Serial)
		st := d.Status()
		require.Len(t, st.Groups, 1)
		require.Len(t, st.Groups[0].Paths, 2, "paths grouped by WWID over both portals")
		buf := bytes.Repeat([]byte{byte('a' + i)}, 4096)
		_, err := d.WriteAtContext(ctx, buf, 8192, false)
		require.NoError(t, err)
		got := make([]byte, 4096)
		_, err = d.ReadAtContext(ctx, got, 8192)
		require.NoError(t, err)
		require.Equal(t, buf, got)
	}
	require.Equal(t, uint16(9), devs[3].cfg.PortalLUNs[1])

	for _, d := range devs[:3] {
		require.NoError(t, d.Close(ctx))
	}
	require.Equal(t, 2, pool.Sessions(), "still used by the last device")
	require.NoError(t, devs[3].Close(ctx))
	require.Equal(t, 0, pool.Sessions())
	waitConns(t, tgA, 0)
	waitConns(t, tgB, 0)
}

// want narrows OpenAll; a portal that does not answer is reported while
// the devices open over the others.
func TestOpenAllFilterAndDeadPortal(t *testing.T) {
	const name = "iqn.2026-11.dev.gomp:pool2"
	l1, l2 := iscsitest.NewLUN(8192, 512).SetIdentity(7), iscsitest.NewLUN(8192, 512).SetIdentity(8)
	_, a := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: l1, 2: l2}})
	dead := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devs, err := OpenAll(ctx, Config{Target: name, Portals: []string{a, dead}, LoginTimeout: 2 * time.Second,
		Settings: Settings{PollingInterval: time.Second}}, func(f FoundLUN) bool { return f.LUNs[0] == 2 })
	require.ErrorContains(t, err, dead)
	require.Len(t, devs, 1)
	require.Equal(t, l2.Serial(), devs[0].Info().Serial)
	require.NoError(t, devs[0].Close(ctx))
}

// The pool's ISID hook names each session's ISID (a restarted process
// reinstates its sessions), one call per session.
func TestSessionPoolISIDHook(t *testing.T) {
	const name = "iqn.2026-11.dev.gomp:pool3"
	tg, a := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{
		1: iscsitest.NewLUN(8192, 512).SetIdentity(11), 2: iscsitest.NewLUN(8192, 512).SetIdentity(12)}})
	want := [6]byte{0x80, 1, 2, 3, 4, 5}
	var calls []string
	pool := &SessionPool{ISID: func(initiator, tgt, portal string) [6]byte {
		calls = append(calls, initiator+" "+tgt+" "+portal)
		return want
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devs, err := OpenAll(ctx, Config{Target: name, Portals: []string{a}, Pool: pool, InitiatorName: "iqn.2026-11.dev.gomp:h",
		LoginTimeout: 2 * time.Second, Settings: Settings{PollingInterval: time.Second}}, nil)
	require.NoError(t, err)
	require.Len(t, devs, 2)
	require.Equal(t, []string{"iqn.2026-11.dev.gomp:h " + name + " " + a}, calls)
	waitConns(t, tg, 1)
	require.Equal(t, want, [6]byte(tg.Conns()[0].Params().ISID))
	for _, d := range devs {
		require.NoError(t, d.Close(ctx))
	}
}
