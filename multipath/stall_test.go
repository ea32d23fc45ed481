package multipath

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// seqLog orders what two targets saw.
type seqLog struct {
	mu     sync.Mutex
	events []string
}

func (l *seqLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *seqLog) index(e string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.events {
		if x == e {
			return i
		}
	}
	return -1
}

// A target that stops answering one command, not the connection, for
// longer than every timeout: the I/O watchdog aborts it at the target, and
// only once the target confirmed the abort is the write retried on the
// other path; what is read back is exactly what was written last.
func TestStalledCommandRetriedOnlyWhenKnownDead(t *testing.T) {
	const name = "iqn.2026-12.dev.gomp:stall"
	const lba = 64
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(9)
	seq := &seqLog{}
	isWrite := func(cdb []byte) bool {
		return cdb[0] == byte(scsi.OpWrite16) && binary.BigEndian.Uint64(cdb[2:]) == lba
	}
	var held bool
	var mu sync.Mutex
	stalling := iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}, Hooks: iscsitest.Hooks{
		HoldCommand: func(_ *iscsitest.Conn, cdb []byte) bool {
			mu.Lock()
			defer mu.Unlock()
			if isWrite(cdb) && !held {
				held = true
				seq.add("held on path 1")
				return true
			}
			return false
		},
		BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if r, ok := p.(*pdu.TaskMgmtResponse); ok {
				seq.add("path 1 answered " + r.Response.String())
			}
			return iscsitest.Continue
		},
	}}
	healthy := iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}, Hooks: iscsitest.Hooks{
		OnReceive: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if c, ok := p.(*pdu.SCSICommand); ok && len(c.CDB) >= 16 && isWrite(c.CDB) {
				seq.add("write on path 2")
			}
			return iscsitest.Continue
		},
	}}
	_, p1 := serveTarget(t, stalling)
	_, p2 := serveTarget(t, healthy)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: name, LUN: 1, Portals: []string{p1, p2}, LoginTimeout: 2 * time.Second,
		IOTimeout: 2 * time.Second, NOPInterval: time.Second, NOPTimeout: 2 * time.Second,
		Settings: Settings{GroupingPolicy: GroupFailover, PollingInterval: time.Second}})
	require.NoError(t, err)
	defer func() { require.NoError(t, d.Close(context.Background())) }()
	require.Equal(t, []string{p1}, activePortals(d), "failover: path 1 carries the I/O")

	want := bytes.Repeat([]byte("last"), 1024)
	start := time.Now()
	_, err = d.WriteAtContext(ctx, want, lba*512, false)
	require.NoError(t, err)
	took := time.Since(start)
	seq.mu.Lock()
	t.Logf("write done after %v; order: %q", took, seq.events)
	seq.mu.Unlock()
	held1, aborted, moved := seq.index("held on path 1"), seq.index("path 1 answered Function complete"), seq.index("write on path 2")
	require.GreaterOrEqual(t, held1, 0)
	require.Greater(t, aborted, held1, "the held write was aborted at the target")
	require.Greater(t, moved, aborted, "the retry on path 2 came after the abort was confirmed")
	got := make([]byte, len(want))
	_, err = d.ReadAtContext(ctx, got, lba*512)
	require.NoError(t, err)
	require.Equal(t, want, got)
	_, err = lun.ReadAt(got, lba*512)
	require.NoError(t, err)
	require.Equal(t, want, got, "the target holds the last write")
}
