package multipath

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// The hostile-target suite under multipath: one LUN behind two in-process
// targets, one healthy and one that turns hostile once the device is
// open. I/O through the device must complete with no error and the right
// data on the healthy path, and the hostile path must be failed. Each
// case runs in a testing/synctest bubble: NOP and checker timeouts are
// exact and instant.

const (
	goodPortal    = "good:3260"
	hostilePortal = "hostile:3260"
	hostileName   = "iqn.2026-11.dev.gomp:hostile"
)

// hostileNet routes the two portals to their targets over iscsitest.Pipe.
type hostileNet struct {
	targets map[string]*iscsitest.Target
	wg      sync.WaitGroup // Serve goroutines
}

func (n *hostileNet) dial(_ context.Context, network, addr string) (net.Conn, error) {
	tg := n.targets[addr]
	if tg == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	ini, tgt := iscsitest.Pipe()
	n.wg.Go(func() { _ = tg.Serve(tgt) })
	return ini, nil
}

func (n *hostileNet) close() {
	for _, tg := range n.targets {
		tg.Close()
	}
	n.wg.Wait()
}

// ourGoroutines returns the stacks of goroutines running code of package
// iscsi or multipath (tests and the fake target excluded).
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		ours := strings.Contains(g, "gomp/iscsi.(*") || strings.Contains(g, "gomp/multipath.(*")
		if ours && !strings.Contains(g, "internal/iscsitest.") && !strings.Contains(g, "multipath.(*hostileNet)") {
			out = append(out, g)
		}
	}
	return out
}

// armed returns a BeforeSend hook that applies fn to every PDU of type T
// once on is set.
func armed[T pdu.PDU](on *atomic.Bool, fn func(c *iscsitest.Conn, p T) iscsitest.Action) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	return func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if v, ok := p.(T); ok && on.Load() {
			return fn(c, v)
		}
		return iscsitest.Continue
	}
}

// TestHostilePathFailsOver: for each way the hostile target misbehaves,
// concurrent writes and read-backs through the device (round-robin, one
// request per path in turn, so that the hostile path gets its share) all
// succeed with
// the right data, and the hostile path is failed at least once.
func TestHostilePathFailsOver(t *testing.T) {
	cases := []struct {
		name   string
		target func(on *atomic.Bool) iscsitest.Config
	}{
		{name: "DataSegmentLength beyond MaxRecvDataSegmentLength", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{Hooks: iscsitest.Hooks{Rewrite: func(_ *iscsitest.Conn, p pdu.PDU, w []byte) []byte {
				if p.Opcode() == pdu.OpDataIn && on.Load() {
					w[5], w[6], w[7] = 0xff, 0xff, 0xff
				}
				return w
			}}}
		}},
		{name: "Data-In for an unknown ITT", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: armed(on, func(_ *iscsitest.Conn, d *pdu.DataIn) iscsitest.Action {
				d.ITT ^= 0x00ff0000
				return iscsitest.Continue
			})}}
		}},
		{name: "residual larger than the transfer", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: armed(on, func(_ *iscsitest.Conn, r *pdu.SCSIResponse) iscsitest.Action {
				r.Underflow, r.Overflow, r.ResidualCount = true, false, 1<<30
				return iscsitest.Continue
			})}}
		}},
		{name: "R2T flood for the same bytes", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true,
				Hooks: iscsitest.Hooks{BeforeSend: armed(on, func(c *iscsitest.Conn, r *pdu.R2T) iscsitest.Action {
					for i := range uint32(1000) {
						again := *r
						again.TTT = 0x10000 + i
						if c.Inject(&again) != nil {
							break
						}
					}
					return iscsitest.Continue
				})}}
		}},
		{name: "stall mid-PDU", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: armed(on, func(*iscsitest.Conn, *pdu.DataIn) iscsitest.Action {
				return iscsitest.Truncate
			})}}
		}},
		{name: "slowloris", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
				if on.Load() && p.Opcode() != pdu.OpLoginResp {
					return iscsitest.Trickle
				}
				return iscsitest.Continue
			}}}
		}},
		{name: "connection reset mid-PDU", target: func(on *atomic.Bool) iscsitest.Config {
			return iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: armed(on, func(c *iscsitest.Conn, _ *pdu.DataIn) iscsitest.Action {
				go c.Reset()
				return iscsitest.Stall
			})}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runHostilePath(t, tc.target) })
		})
	}
}

func runHostilePath(t *testing.T, hostileTarget func(on *atomic.Bool) iscsitest.Config) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(42)
	luns := map[uint16]*iscsitest.LUN{1: lun}
	var on atomic.Bool
	bad := hostileTarget(&on)
	bad.Name, bad.LUNs = hostileName, luns
	n := &hostileNet{targets: map[string]*iscsitest.Target{
		goodPortal:    iscsitest.New(iscsitest.Config{Name: hostileName, LUNs: luns}),
		hostilePortal: iscsitest.New(bad),
	}}
	defer n.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := Open(ctx, Config{Target: hostileName, LUN: 1, Portals: []string{goodPortal, hostilePortal},
		Dial: n.dial, Settings: Settings{PollingInterval: time.Second, PathSelector: "round-robin 0", RRMinIO: 1}})
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = d.Close(context.Background())
		}
	}()
	require.ElementsMatch(t, []string{goodPortal, hostilePortal}, activePortals(d), "both paths carry I/O")
	on.Store(true)

	const workers, rounds, size = 16, 4, 4096
	errs := make(chan error, workers)
	for w := range workers {
		go func() { errs <- hostileRounds(ctx, d, int64(w)*rounds*size, rounds, size, byte(w)) }()
	}
	for range workers {
		require.NoError(t, <-errs, "no I/O error while one path is hostile")
	}
	for w := range workers {
		for r := range rounds {
			off := int64(w*rounds+r) * size
			got := make([]byte, size)
			_, err := lun.ReadAt(got, off)
			require.NoError(t, err)
			require.Equal(t, hostileFill(size, byte(w), r), got, "worker %d round %d at the target", w, r)
		}
	}
	hostile, good := pathStatus(d, hostilePortal), pathStatus(d, goodPortal)
	t.Logf("hostile path: %s, %d failures, %d errors, %d completed, %d written, last: %s", hostile.State, hostile.Failures, hostile.Errors, hostile.Completed, hostile.WrittenBytes, hostile.LastError)
	require.Positive(t, hostile.Failures, "the hostile path was failed")
	require.Equal(t, "failed", hostile.State, "and stays failed while hostile")
	require.NotEmpty(t, hostile.LastError)
	require.Equal(t, "active", good.State)
	require.Zero(t, good.Failures, "the healthy path never failed")
	require.Zero(t, good.Errors)
	require.Positive(t, good.Completed)
	on.Store(false)
	closed = true
	_ = d.Close(context.Background())
	n.close()
	synctest.Wait()
	g := ourGoroutines()
	require.Empty(t, g, "%d goroutines left:\n%s", len(g), strings.Join(g, "\n\n"))
}

// hostileRounds writes rounds blocks from off on and reads each back.
func hostileRounds(ctx context.Context, d *Device, off int64, rounds, size int, seed byte) error {
	for r := range rounds {
		at := off + int64(r*size)
		want := hostileFill(size, seed, r)
		// Written twice: three requests a round, so that round-robin
		// sends both writes and reads down each path.
		for range 2 {
			if _, err := d.WriteAtContext(ctx, want, at, false); err != nil {
				return fmt.Errorf("write at %d: %w", at, err)
			}
		}
		got := make([]byte, size)
		if _, err := d.ReadAtContext(ctx, got, at); err != nil {
			return fmt.Errorf("read at %d: %w", at, err)
		}
		if string(got) != string(want) {
			return fmt.Errorf("read at %d: data differs", at)
		}
	}
	return nil
}

func hostileFill(n int, seed byte, round int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed ^ byte(round*31) ^ byte(i) ^ byte(i>>8)*7
	}
	return b
}
