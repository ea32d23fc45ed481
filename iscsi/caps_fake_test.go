package iscsi

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// cdbLog records the CDBs of every SCSI command a fake target receives.
type cdbLog struct {
	mu   sync.Mutex
	cdbs [][]byte
}

func (l *cdbLog) hook(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
	if c, ok := p.(*pdu.SCSICommand); ok {
		l.mu.Lock()
		l.cdbs = append(l.cdbs, append([]byte(nil), c.CDB...))
		l.mu.Unlock()
	}
	return iscsitest.Continue
}

// take returns the CDBs recorded since the last take, as "op" or "op+FUA".
func (l *cdbLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.cdbs {
		s := scsi.Opcode(c[0]).String()
		if (c[0] == byte(scsi.OpWrite16) || c[0] == byte(scsi.OpWrite10)) && c[1]&0x08 != 0 {
			s += "+FUA"
		}
		out = append(out, s)
	}
	l.cdbs = nil
	return out
}

// capsFake serves one LUN described by caching and unsupported opcodes,
// and opens it.
func capsFake(t *testing.T, thin bool, caching *iscsitest.Caching, unsupported ...scsi.Opcode) (*LUN, *iscsitest.LUN, *cdbLog) {
	t.Helper()
	tl := iscsitest.NewLUN(fakeBlocks, fakeBlockSize)
	tl.Thin, tl.Caching = thin, caching
	tl.Unsupported = map[byte]bool{}
	for _, op := range unsupported {
		tl.Unsupported[byte(op)] = true
	}
	log := &cdbLog{}
	f := newFake(t, iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{fakeLUN: tl}, Hooks: iscsitest.Hooks{OnReceive: log.hook}})
	s := f.dial(t)
	l, err := s.OpenLUN(ctxT(t), fakeLUN)
	require.NoError(t, err)
	log.take()
	return l, tl, log
}

const (
	w16  = "WRITE(16)"
	fua  = "WRITE(16)+FUA"
	sc16 = "SYNCHRONIZE CACHE(16)"
	sc10 = "SYNCHRONIZE CACHE(10)"
)

// A FUA write is sent as the LUN allows: WRITE(16) with FUA where DPOFUA is
// set, else WRITE(16) and SYNCHRONIZE CACHE when the write cache is on; a
// target that refuses the FUA bit anyway gets the fallback from then on.
func TestFUAWriteByCacheMode(t *testing.T) {
	for _, wce := range []bool{false, true} {
		for _, dpofua := range []bool{false, true} {
			for _, refuse := range []bool{false, true} {
				c := iscsitest.Caching{WriteCache: wce, DPOFUA: dpofua, RefuseFUA: refuse}
				t.Run(fmt.Sprintf("WCE=%v,DPOFUA=%v,refuse=%v", wce, dpofua, refuse), func(t *testing.T) {
					l, tl, log := capsFake(t, false, &c)
					require.Equal(t, scsi.CacheMode{Known: true, WriteCache: wce, DPOFUA: dpofua}, l.Info().Cache)
					fallback := []string{w16}
					if wce {
						fallback = append(fallback, sc16)
					}
					for i := range 2 {
						want := pattern(4096, byte(i+1))
						n, err := l.WriteAtContext(ctxT(t), want, 8192, true)
						require.NoError(t, err)
						require.Equal(t, 4096, n)
						got := make([]byte, 4096)
						_, err = tl.ReadAt(got, 8192)
						require.NoError(t, err)
						require.Equal(t, want, got)
						switch {
						case dpofua && !refuse:
							require.Equal(t, []string{fua}, log.take())
						case dpofua && i == 0: // refused once, then never tried again
							require.Equal(t, append([]string{fua}, fallback...), log.take())
						default:
							require.Equal(t, fallback, log.take())
						}
					}
					_, err := l.WriteAtContext(ctxT(t), make([]byte, 512), 0, false)
					require.NoError(t, err)
					require.Equal(t, []string{w16}, log.take(), "a write without FUA is a plain write")
				})
			}
		}
	}
}

func TestWriteProtectedLUN(t *testing.T) {
	l, _, _ := capsFake(t, false, &iscsitest.Caching{WriteProtect: true})
	require.True(t, l.Info().Cache.WriteProtect)
	_, err := l.WriteAtContext(ctxT(t), make([]byte, 512), 0, false)
	var se *SCSIError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, scsi.KeyDataProtect, se.Sense.Key)
	_, err = l.ReadAtContext(ctxT(t), make([]byte, 512), 0)
	require.NoError(t, err)
}

// SYNCHRONIZE CACHE(16) refused: (10) from then on; (10) refused too: the
// LUN has no cache to flush, and Flush succeeds without a command.
func TestFlushFallback(t *testing.T) {
	l, _, log := capsFake(t, false, nil, scsi.OpSynchronizeCache16)
	for range 2 {
		require.NoError(t, l.Flush(ctxT(t)))
	}
	require.Equal(t, []string{sc16, sc10, sc10}, log.take())

	l, _, log = capsFake(t, false, nil, scsi.OpSynchronizeCache16, scsi.OpSynchronizeCache10)
	for range 2 {
		require.NoError(t, l.Flush(ctxT(t)))
	}
	require.Equal(t, []string{sc16, sc10}, log.take())
}

// UNMAP: not offered, or refused although offered: ErrUnsupported, and a
// refused UNMAP is not sent again.
func TestUnmapUnsupported(t *testing.T) {
	l, _, log := capsFake(t, false, nil)
	require.False(t, l.Info().CanUnmap)
	require.ErrorIs(t, l.Unmap(ctxT(t), 0, 4096), errors.ErrUnsupported)
	require.Empty(t, log.take())

	l, _, log = capsFake(t, true, nil, scsi.OpUnmap)
	require.True(t, l.Info().CanUnmap)
	for range 2 {
		require.ErrorIs(t, l.Unmap(ctxT(t), 0, 4096), ErrUnsupported)
	}
	require.Equal(t, []string{"UNMAP"}, log.take())
}

// WRITE SAME refused: the range is zeroed with writes, now and later.
func TestWriteZeroesFallback(t *testing.T) {
	l, tl, log := capsFake(t, true, nil, scsi.OpWriteSame16)
	for i := range 2 {
		off := int64(i) * 8192
		_, err := tl.WriteAt(pattern(8192, 0xAB), off)
		require.NoError(t, err)
		require.NoError(t, l.WriteZeroes(ctxT(t), off, 8192, true))
		got := make([]byte, 8192)
		_, err = tl.ReadAt(got, off)
		require.NoError(t, err)
		require.Equal(t, make([]byte, 8192), got)
	}
	require.Equal(t, []string{"WRITE SAME(16)", w16, w16}, log.take())
}

// A LUN that answers no MODE SENSE: the cache is unknown and assumed
// volatile, FUA is not used.
func TestNoModeSense(t *testing.T) {
	l, _, log := capsFake(t, false, nil, scsi.OpModeSense10, scsi.OpModeSense6)
	require.Equal(t, scsi.CacheMode{}, l.Info().Cache)
	_, err := l.WriteAtContext(ctxT(t), make([]byte, 512), 0, true)
	require.NoError(t, err)
	require.Equal(t, []string{w16, sc16}, log.take())
}

// MODE PARAMETERS CHANGED marks the LUN stale; Refresh reads the new cache
// mode, and FUA writes follow it.
func TestCapabilityUnitAttention(t *testing.T) {
	c := iscsitest.Caching{WriteCache: true, DPOFUA: true}
	tl := iscsitest.NewLUN(fakeBlocks, fakeBlockSize)
	tl.Caching = &c
	log := &cdbLog{}
	f := newFake(t, iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{fakeLUN: tl}, Hooks: iscsitest.Hooks{OnReceive: log.hook}})
	s := f.dial(t)
	l, err := s.OpenLUN(ctxT(t), fakeLUN)
	require.NoError(t, err)
	require.False(t, l.Stale())

	tl.SetCaching(iscsitest.Caching{}) // write through, no FUA
	f.conn(t).UnitAttention(fakeLUN, 0x2A, 0x01)
	require.NoError(t, l.TestUnitReady(ctxT(t)), "the unit attention is retried")
	require.True(t, l.Stale())
	info, err := l.Refresh(ctxT(t))
	require.NoError(t, err)
	require.False(t, l.Stale())
	require.Equal(t, scsi.CacheMode{Known: true}, info.Cache)
	require.Equal(t, info.Cache, l.Info().Cache)
	log.take()
	_, err = l.WriteAtContext(ctxT(t), make([]byte, 512), 0, true)
	require.NoError(t, err)
	require.Equal(t, []string{w16}, log.take(), "write through: a plain write is durable")

	f.conn(t).UnitAttention(fakeLUN, 0x29, 0x00) // a reset: no capability change
	require.NoError(t, l.TestUnitReady(ctxT(t)))
	require.False(t, l.Stale())
}
