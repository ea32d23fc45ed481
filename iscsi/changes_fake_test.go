package iscsi

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// uaLog records what Config.OnUnitAttention is told.
type uaLog struct {
	mu   sync.Mutex
	seen []scsi.AdditionalSense
}

func (u *uaLog) note(_ uint16, code scsi.AdditionalSense) {
	u.mu.Lock()
	u.seen = append(u.seen, code)
	u.mu.Unlock()
}

func (u *uaLog) all() []scsi.AdditionalSense {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]scsi.AdditionalSense(nil), u.seen...)
}

// REPORTED LUNS DATA HAS CHANGED, met by a command and retried, is not
// lost: the hook hears it, LUNsGeneration counts it and the LUN is stale
// (its identity is to be checked again).
func TestUnitAttentionReportedLUNsChanged(t *testing.T) {
	f := newFake(t, iscsitest.Config{})
	var ua uaLog
	s := f.dial(t, func(c *Config) { c.OnUnitAttention = ua.note })
	l, err := s.OpenLUN(ctxT(t), fakeLUN)
	require.NoError(t, err)
	require.False(t, l.Stale())
	gen := s.LUNsGeneration()

	f.conn(t).UnitAttention(fakeLUN, 0x3F, 0x0E)
	require.NoError(t, l.TestUnitReady(ctxT(t)))

	require.Equal(t, []scsi.AdditionalSense{UAReportedLUNsChanged}, ua.all())
	require.Equal(t, gen+1, s.LUNsGeneration())
	require.True(t, l.Stale())
	_, err = l.Refresh(ctxT(t))
	require.NoError(t, err)
	require.False(t, l.Stale())
}

// CAPACITY DATA HAS CHANGED is heard, and ReadCapacity gives the LUN its
// new size: I/O beyond the old end is allowed afterwards, not before.
func TestUnitAttentionCapacityChangedAndReadCapacity(t *testing.T) {
	f := newFake(t, iscsitest.Config{})
	var ua uaLog
	s := f.dial(t, func(c *Config) { c.OnUnitAttention = ua.note })
	l, err := s.OpenLUN(ctxT(t), fakeLUN)
	require.NoError(t, err)
	old := l.Size()
	buf := make([]byte, fakeBlockSize)
	_, err = l.ReadAtContext(ctxT(t), buf, old)
	require.Error(t, err, "beyond the end before the resize")

	f.lun().SetBlocks(2 * fakeBlocks)
	f.conn(t).UnitAttention(fakeLUN, 0x2A, 0x09)
	require.NoError(t, l.TestUnitReady(ctxT(t)))
	require.Equal(t, []scsi.AdditionalSense{UACapacityChanged}, ua.all())
	require.True(t, l.Stale())
	require.Equal(t, uint64(0), s.LUNsGeneration())

	size, bs, err := l.ReadCapacity(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, 2*old, size)
	require.Equal(t, uint32(fakeBlockSize), bs)
	require.Equal(t, 2*old, l.Size())
	require.Equal(t, uint64(2*fakeBlocks), l.Info().Blocks)
	copy(buf, "grown")
	_, err = l.WriteAtContext(ctxT(t), buf, old, false)
	require.NoError(t, err)
	got := make([]byte, fakeBlockSize)
	_, err = l.ReadAtContext(ctxT(t), got, old)
	require.NoError(t, err)
	require.Equal(t, buf, got)
}
