package iscsi

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// REPORT LUNS of any size: a list longer than the first allocation (256
// LUNs) is asked again with the length the target reports; LUNs past 255
// come in flat space addressing.
func TestReportLUNsAnySize(t *testing.T) {
	for _, n := range []int{1, 256, 257, 300, 4000} {
		luns := map[uint16]*iscsitest.LUN{}
		for i := range n {
			luns[uint16(i*3)] = iscsitest.NewLUN(8, 512)
		}
		f := newFake(t, iscsitest.Config{LUNs: luns})
		got, err := f.dial(t).ReportLUNs(ctxT(t))
		require.NoError(t, err, "%d LUNs", n)
		require.Len(t, got, n)
		for i, l := range got {
			require.Equal(t, uint16(i*3), l)
		}
	}
}

// asController returns hooks that make LUN lun answer the standard INQUIRY
// as a storage array controller (peripheral device type 0x0C), as tgt's
// LUN 0 does: the Data-In of that command gets its first byte rewritten.
func asController(lun uint16) iscsitest.Hooks {
	var mu sync.Mutex
	itts := map[uint32]bool{}
	return iscsitest.Hooks{
		OnReceive: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if c, ok := p.(*pdu.SCSICommand); ok && isCDB(p, scsi.OpInquiry) && c.CDB[1]&1 == 0 && c.LUN == pdu.MakeLUN(lun) {
				mu.Lock()
				itts[c.ITT] = true
				mu.Unlock()
			}
			return iscsitest.Continue
		},
		BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			mu.Lock()
			defer mu.Unlock()
			if d, ok := p.(*pdu.DataIn); ok && itts[d.ITT] && d.BufferOffset == 0 && len(d.Data) > 0 {
				d.Data[0] = 0x0C
			}
			return iscsitest.Continue
		},
	}
}

// DiskLUNs keeps the disk LUNs, in the target's order, with their identity
// and capacity, and leaves out a controller LUN.
func TestDiskLUNs(t *testing.T) {
	luns := map[uint16]*iscsitest.LUN{0: iscsitest.NewLUN(8, 512), 2: iscsitest.NewLUN(64, 512),
		5: iscsitest.NewLUN(16, 4096)}
	f := newFake(t, iscsitest.Config{LUNs: luns, Hooks: asController(0)})
	s := f.dial(t)
	info, err := s.Inquire(ctxT(t), 0)
	require.NoError(t, err)
	require.False(t, info.IsDisk(), "the hook makes LUN 0 a controller")
	got, err := s.DiskLUNs(ctxT(t))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, uint16(2), got[0].LUN)
	require.Equal(t, int64(64*512), got[0].Size())
	require.Equal(t, uint16(5), got[1].LUN)
	require.Equal(t, int64(16*4096), got[1].Size())
	for _, i := range got {
		require.NotEmpty(t, i.WWID)
	}
}

// A LUN that cannot be inquired ends the listing: the disk LUNs before it come
// back with an error naming it.
func TestDiskLUNsInquiryFails(t *testing.T) {
	bad := iscsitest.NewLUN(8, 512)
	bad.Unsupported = map[byte]bool{byte(scsi.OpServiceActionIn16): true} // READ CAPACITY(16)
	luns := map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(8, 512), 3: bad, 4: iscsitest.NewLUN(8, 512)}
	f := newFake(t, iscsitest.Config{LUNs: luns})
	got, err := f.dial(t).DiskLUNs(ctxT(t))
	require.ErrorContains(t, err, "READ CAPACITY(16) LUN 3")
	var se *SCSIError
	require.ErrorAs(t, err, &se)
	require.Len(t, got, 1)
	require.Equal(t, uint16(1), got[0].LUN)
}
