package iscsitest

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

func thinLUN() *LUN {
	l := NewLUN(2048, 512)
	l.Thin = true
	return l
}

func TestInquiry(t *testing.T) {
	lun := thinLUN().SetIdentity(42)
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: lun}})
	ti.login()

	itt := ti.readCmd(0, inquiryCDB(false, 0, 96), 96)
	data, _, st := ti.collectRead(itt)
	r := st.(*pdu.SCSIResponse)
	require.True(t, r.Underflow)
	require.Equal(t, uint32(96-36), r.ResidualCount)
	require.Len(t, data, 36)
	require.Equal(t, byte(0x00), data[0], "direct-access block device")
	require.Equal(t, byte(0x10), data[5]&0x30, "implicit ALUA")
	require.Equal(t, "GOMP    SCRIPTED TARGET 0001", string(data[8:36]))

	itt = ti.readCmd(0, inquiryCDB(true, 0x00, 255), 255)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, []byte{0, 0, 0, 5, 0x00, 0x80, 0x83, 0xb0, 0xb2}, data)

	itt = ti.readCmd(0, inquiryCDB(true, 0x80, 255), 255)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, lun.Serial(), string(data[4:]))

	itt = ti.readCmd(0, inquiryCDB(true, 0x83, 255), 255)
	data, _, _ = ti.collectRead(itt)
	naa := lun.NAA()
	require.Equal(t, []byte{0x01, 0x03, 0, 16}, data[4:8], "NAA designator header")
	require.Equal(t, naa[:], data[8:24])
	require.Equal(t, byte(0x6), naa[0]>>4, "NAA 6")

	itt = ti.readCmd(0, inquiryCDB(true, 0xb2, 255), 255)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, byte(0xc4), data[5], "LBPU, LBPWS, LBPRZ")

	itt = ti.readCmd(0, inquiryCDB(true, 0xb0, 255), 255)
	data, _, _ = ti.collectRead(itt)
	require.Len(t, data, 64)
	require.Equal(t, uint32(256), binary.BigEndian.Uint32(data[24:]), "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT")

	// An absent LUN answers standard INQUIRY with qualifier 011b.
	itt = ti.readCmd(7, inquiryCDB(false, 0, 36), 36)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, byte(0x7f), data[0])
	ti.logout()
}

// LUNs without identity get distinct ones; a LUN shared by two targets
// keeps one identity.
func TestLUNIdentity(t *testing.T) {
	shared, other := NewLUN(8, 512), NewLUN(8, 512)
	New(Config{Name: "iqn.a", LUNs: map[uint16]*LUN{0: shared, 1: other}})
	New(Config{Name: "iqn.b", LUNs: map[uint16]*LUN{0: shared}})
	require.NotEqual(t, shared.NAA(), other.NAA())
	require.NotEqual(t, shared.Serial(), other.Serial())
	require.Equal(t, NewLUN(8, 512).SetIdentity(1).NAA(), NewLUN(8, 512).SetIdentity(1).NAA())
}

func TestReadCapacity(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: thinLUN()}})
	ti.login()
	itt := ti.readCmd(0, []byte{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32)
	data, _, st := ti.collectRead(itt)
	require.Equal(t, pdu.StatusGood, st.(*pdu.SCSIResponse).Status)
	require.Equal(t, uint64(2047), binary.BigEndian.Uint64(data))
	require.Equal(t, uint32(512), binary.BigEndian.Uint32(data[8:]))
	require.Equal(t, byte(0xc0), data[14], "LBPME and LBPRZ")

	itt = ti.readCmd(0, make([]byte, 10), 0)
	ti.status(itt)
	itt = ti.readCmd(0, []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, []byte{0, 0, 0x07, 0xff, 0, 0, 2, 0}, data)
	ti.logout()
}

// A WRITE with immediate data, then R2Ts of at most R2TSplit bytes, one
// outstanding at a time.
func TestWriteR2TSplit(t *testing.T) {
	lun := NewLUN(256, 512)
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: lun}, R2TSplit: 4096})
	ti.login(kv("ImmediateData", "Yes"), kv("InitialR2T", "Yes"))
	payload := pattern(16384, 3)
	itt := ti.command(0, cdb16(0x8a, 10, 32), 16384, false, true, payload[:1024], true)
	var offsets []uint32
	for off := uint32(1024); off < 16384; {
		r2t := recvAs[*pdu.R2T](ti)
		require.Equal(t, itt, r2t.ITT)
		require.Equal(t, uint32(len(offsets)), r2t.R2TSN)
		require.Equal(t, off, r2t.BufferOffset)
		require.LessOrEqual(t, r2t.DesiredDataTransferLength, uint32(4096))
		offsets = append(offsets, off)
		// Answer in two Data-Out PDUs to exercise DataSN.
		n, half := r2t.DesiredDataTransferLength, r2t.DesiredDataTransferLength/2
		ti.send(&pdu.DataOut{ITT: itt, TTT: r2t.TTT, DataSN: 0, BufferOffset: off, Data: payload[off : off+half]})
		ti.send(&pdu.DataOut{Final: true, ITT: itt, TTT: r2t.TTT, DataSN: 1, BufferOffset: off + half,
			Data: payload[off+half : off+n]})
		off += n
	}
	require.Equal(t, []uint32{1024, 5120, 9216, 13312}, offsets)
	r := ti.status(itt)
	require.Equal(t, pdu.StatusGood, r.Status)
	require.Equal(t, uint32(4), r.ExpDataSN, "R2TSNs used")
	got := make([]byte, 16384)
	_, err := lun.ReadAt(got, 10*512)
	require.NoError(t, err)
	require.Equal(t, payload, got)
	require.Empty(t, ti.conn().Stats().Violations)
	ti.logout()
}

// With InitialR2T=No the initiator sends unsolicited Data-Out up to
// FirstBurstLength; R2Ts, several outstanding, ask for the rest.
func TestWriteUnsolicited(t *testing.T) {
	lun := NewLUN(256, 512)
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: lun}, MaxOutstandingR2T: 2, R2TSplit: 2048})
	ti.login(kv("InitialR2T", "No"), kv("FirstBurstLength", "8192"), kv("MaxOutstandingR2T", "8"))
	payload := pattern(12288, 5)
	itt := ti.command(0, cdb10(0x2a, 0, 24), 12288, false, true, payload[:2048], false)
	ti.send(&pdu.DataOut{Final: true, ITT: itt, TTT: pdu.ReservedTag, DataSN: 0, BufferOffset: 2048, Data: payload[2048:8192]})
	a, b := recvAs[*pdu.R2T](ti), recvAs[*pdu.R2T](ti)
	require.Equal(t, []uint32{8192, 10240}, []uint32{a.BufferOffset, b.BufferOffset})
	for _, r := range []*pdu.R2T{b, a} { // answered out of order
		ti.send(&pdu.DataOut{Final: true, ITT: itt, TTT: r.TTT, BufferOffset: r.BufferOffset,
			Data: payload[r.BufferOffset : r.BufferOffset+r.DesiredDataTransferLength]})
	}
	require.Equal(t, pdu.StatusGood, ti.status(itt).Status)
	got := make([]byte, len(payload))
	_, err := lun.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, payload, got)
	require.Empty(t, ti.conn().Stats().Violations)
	ti.logout()
}

func TestReadDataInSplit(t *testing.T) {
	for _, collapse := range []bool{false, true} {
		lun := NewLUN(64, 512)
		payload := pattern(4096, 1)
		_, err := lun.WriteAt(payload, 512)
		require.NoError(t, err)
		ti := start(t, Config{LUNs: map[uint16]*LUN{0: lun}, DataInSplit: 1000, PhaseCollapse: collapse})
		ti.login(kv("MaxBurstLength", "2048"))
		itt := ti.readCmd(0, cdb10(0x28, 1, 8), 4096)
		data, ins, st := ti.collectRead(itt)
		require.Equal(t, payload, data)
		var sizes []int
		var finals []bool
		for i, in := range ins {
			require.Equal(t, uint32(i), in.DataSN)
			sizes, finals = append(sizes, len(in.Data)), append(finals, in.Final)
		}
		// Bursts of MaxBurstLength 2048: 1000+1000+48, 1000+1000+48.
		require.Equal(t, []int{1000, 1000, 48, 1000, 1000, 48}, sizes)
		require.Equal(t, []bool{false, false, true, false, false, true}, finals)
		if collapse {
			last := st.(*pdu.DataIn)
			require.True(t, last.StatusValid)
			require.Equal(t, pdu.StatusGood, last.Status)
		} else {
			require.Equal(t, uint32(6), st.(*pdu.SCSIResponse).ExpDataSN)
		}
		ti.nopPing(nil) // nothing else was queued
		ti.logout()
	}
}

func TestResiduals(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(64, 512)}})
	ti.login()
	itt := ti.readCmd(0, cdb10(0x28, 0, 2), 512) // 1024 bytes into 512
	data, _, st := ti.collectRead(itt)
	r := st.(*pdu.SCSIResponse)
	require.Len(t, data, 512)
	require.True(t, r.Overflow)
	require.Equal(t, uint32(512), r.ResidualCount)

	itt = ti.readCmd(0, cdb10(0x28, 0, 1), 2048)
	data, _, st = ti.collectRead(itt)
	r = st.(*pdu.SCSIResponse)
	require.Len(t, data, 512)
	require.True(t, r.Underflow)
	require.Equal(t, uint32(1536), r.ResidualCount)

	// A WRITE that needs more than ExpectedDataTransferLength fails.
	itt = ti.command(0, cdb10(0x2a, 0, 2), 512, false, true, pattern(512, 0), true)
	r = ti.status(itt)
	key, asc, _ := senseOf(t, r)
	require.Equal(t, [2]byte{0x05, 0x24}, [2]byte{key, asc})
	require.True(t, r.Overflow)
	ti.logout()
}

func TestSenseErrors(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(64, 512), 1: NewLUN(8, 512)}, UnitAttentionOnLogin: true})
	ti.login()
	for _, tc := range []struct {
		name string
		lun  uint16
		cdb  []byte
		want [3]byte
	}{
		{"inquiry does not clear UA", 0, inquiryCDB(false, 0, 36), [3]byte{}},
		{"unit attention", 0, make([]byte, 6), [3]byte{0x06, 0x29, 0x00}},
		{"cleared", 0, make([]byte, 6), [3]byte{}},
		{"unknown opcode", 0, []byte{0xd9, 0, 0, 0, 0, 0}, [3]byte{0x05, 0x20, 0x00}},
		{"LBA out of range", 0, cdb10(0x28, 60, 8), [3]byte{0x05, 0x21, 0x00}},
		{"absent LUN", 9, make([]byte, 6), [3]byte{0x05, 0x25, 0x00}},
		{"UA is per LUN", 1, cdb10(0x28, 0, 1), [3]byte{0x06, 0x29, 0x00}},
		{"UNMAP on a thick LUN", 1, []byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, [3]byte{0x05, 0x20, 0x00}},
		{"bad service action", 1, []byte{0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, [3]byte{0x05, 0x24, 0x00}},
	} {
		itt := ti.command(tc.lun, tc.cdb, 512, true, false, nil, true)
		_, _, st := ti.collectRead(itt)
		r := st.(*pdu.SCSIResponse)
		if tc.want == ([3]byte{}) {
			require.Equal(t, pdu.StatusGood, r.Status, tc.name)
			continue
		}
		key, asc, ascq := senseOf(t, r)
		require.Equal(t, tc.want, [3]byte{key, asc, ascq}, tc.name)
	}
	ti.logout()
}

func TestUnmapAndWriteSame(t *testing.T) {
	lun := thinLUN()
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: lun}})
	ti.login(kv("ImmediateData", "Yes"))
	data := pattern(256*512, 7)
	itt := ti.command(0, cdb10(0x2a, 0, 256), uint32(len(data)), false, true, data[:65536], true)
	ti.answerR2Ts(itt, data)
	require.Equal(t, pdu.StatusGood, ti.status(itt).Status)
	require.Equal(t, int64(2*chunkSize), lun.Allocated())

	// UNMAP blocks 0-127: the first 64 KiB chunk goes away.
	param := make([]byte, 24)
	binary.BigEndian.PutUint16(param[0:], 22)
	binary.BigEndian.PutUint16(param[2:], 16)
	binary.BigEndian.PutUint64(param[8:], 0)
	binary.BigEndian.PutUint32(param[16:], 128)
	itt = ti.command(0, []byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, 24, false, true, param, true)
	require.Equal(t, pdu.StatusGood, ti.status(itt).Status)
	require.Equal(t, int64(chunkSize), lun.Allocated())

	// WRITE SAME(16) with UNMAP and a zero block deallocates too.
	ws := cdb16(0x93, 128, 128)
	ws[1] = 0x08
	itt = ti.command(0, ws, 512, false, true, make([]byte, 512), true)
	require.Equal(t, pdu.StatusGood, ti.status(itt).Status)
	require.Zero(t, lun.Allocated())

	// Plain WRITE SAME(16) repeats its block.
	itt = ti.command(0, cdb16(0x93, 4, 3), 512, false, true, pattern(512, 9), true)
	require.Equal(t, pdu.StatusGood, ti.status(itt).Status)
	got := make([]byte, 512)
	_, err := lun.ReadAt(got, 6*512)
	require.NoError(t, err)
	require.Equal(t, pattern(512, 9), got)
	ti.logout()
}

// answerR2Ts answers R2Ts for itt from data until all is sent.
func (ti *testInit) answerR2Ts(itt uint32, data []byte) {
	ti.t.Helper()
	for {
		r := recvAs[*pdu.R2T](ti)
		end := r.BufferOffset + r.DesiredDataTransferLength
		ti.send(&pdu.DataOut{Final: true, ITT: itt, TTT: r.TTT, BufferOffset: r.BufferOffset, Data: data[r.BufferOffset:end]})
		if end == uint32(len(data)) {
			return
		}
	}
}

func TestReportLUNsAndPortGroups(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{3: NewLUN(8, 512), 0: NewLUN(8, 512), 300: NewLUN(8, 512)},
		PortGroup: 7, PortGroupState: 1})
	ti.login()
	itt := ti.readCmd(5, []byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256)
	data, _, _ := ti.collectRead(itt)
	require.Equal(t, uint32(24), binary.BigEndian.Uint32(data))
	for i, n := range []uint16{0, 3, 300} {
		require.Equal(t, uint64(pdu.MakeLUN(n)), binary.BigEndian.Uint64(data[8+8*i:]))
	}
	itt = ti.readCmd(0, []byte{0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, []byte{0, 0, 0, 12, 0x01, 0x0f, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1}, data)

	// a state change: ASYMMETRIC ACCESS STATE CHANGED on the next command
	// to each LUN, then the new state (standby)
	ti.tg.SetPortGroupState(2)
	itt = ti.readCmd(0, []byte{0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256)
	_, _, st := ti.collectRead(itt)
	key, asc, ascq := senseOf(t, st.(*pdu.SCSIResponse))
	require.Equal(t, [3]byte{0x06, 0x2a, 0x06}, [3]byte{key, asc, ascq})
	itt = ti.readCmd(0, []byte{0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256)
	data, _, _ = ti.collectRead(itt)
	require.Equal(t, byte(0x02), data[4])
	ti.logout()
}
