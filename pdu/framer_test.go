package pdu

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// samplePDUs returns one PDU of every opcode with data where the opcode
// carries data, lengths not a multiple of 4 included.
func samplePDUs() []PDU {
	cdb32 := make([]byte, 32)
	for i := range cdb32 {
		cdb32[i] = byte(i + 1)
	}
	sense := AppendSenseSegment(nil, []byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0}, nil)
	return []PDU{
		&NOPOut{Immediate: true, ITT: 1, TTT: ReservedTag, CmdSN: 7, ExpStatSN: 9, Data: []byte("ping!")},
		&NOPIn{ITT: ReservedTag, TTT: 5, StatSN: 3, ExpCmdSN: 4, MaxCmdSN: 40},
		&SCSICommand{Final: true, Read: true, Attr: AttrSimple, LUN: MakeLUN(1), ITT: 2,
			ExpectedDataTransferLength: 4096, CmdSN: 8, ExpStatSN: 3,
			CDB: []byte{0x88, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0}},
		&SCSICommand{Final: true, Write: true, Attr: AttrOrdered, ITT: 3, CDB: cdb32,
			Bidi: true, BidiReadLength: 512, ExpectedDataTransferLength: 3, Data: []byte{1, 2, 3}},
		&SCSIResponse{Underflow: true, Status: StatusCheckCondition, ITT: 2, StatSN: 3,
			ExpCmdSN: 9, MaxCmdSN: 72, ResidualCount: 512, Data: sense},
		&TaskMgmtRequest{Immediate: true, Function: TMFAbortTask, LUN: MakeLUN(1), ITT: 9,
			ReferencedTaskTag: 2, CmdSN: 10, ExpStatSN: 4, RefCmdSN: 8},
		&TaskMgmtResponse{Response: TMFTaskDoesNotExist, ITT: 9, StatSN: 4, ExpCmdSN: 11, MaxCmdSN: 74},
		&LoginRequest{Transit: true, CSG: StageOperational, NSG: StageFullFeature,
			ISID: ISID{0x80, 1, 2, 3, 0, 1}, ITT: 0, CID: 0, CmdSN: 1,
			Data: []byte("HeaderDigest=None\x00MaxRecvDataSegmentLength=262144\x00")},
		&LoginResponse{Transit: true, CSG: StageOperational, NSG: StageFullFeature,
			ISID: ISID{0x80, 1, 2, 3, 0, 1}, TSIH: 0x12, StatSN: 1, ExpCmdSN: 1, MaxCmdSN: 1,
			Data: []byte("HeaderDigest=None\x00")},
		&LoginResponse{Status: LoginAuthenticationFailure, CSG: 3, NSG: 2},
		&TextRequest{Immediate: true, Final: true, ITT: 4, TTT: ReservedTag, CmdSN: 1, Data: []byte("SendTargets=All\x00")},
		&TextResponse{Continue: true, ITT: 4, TTT: 77, StatSN: 2, ExpCmdSN: 2, MaxCmdSN: 2, Data: []byte("TargetName=iqn.x")},
		&DataOut{Final: true, LUN: MakeLUN(1), ITT: 3, TTT: 0x100, ExpStatSN: 5, DataSN: 1, BufferOffset: 8192, Data: []byte("abcdefg")},
		&DataIn{Final: true, StatusValid: true, Underflow: true, ITT: 2, TTT: ReservedTag, StatSN: 6,
			ExpCmdSN: 9, MaxCmdSN: 72, DataSN: 2, BufferOffset: 2048, ResidualCount: 100, Data: bytes.Repeat([]byte{0xab}, 1021)},
		&LogoutRequest{Immediate: true, Reason: LogoutCloseSession, ITT: 11, CmdSN: 12, ExpStatSN: 7},
		&LogoutResponse{Response: LogoutSuccess, ITT: 11, StatSN: 7, ExpCmdSN: 13, MaxCmdSN: 76, Time2Wait: 2, Time2Retain: 20},
		&SNACKRequest{Type: SNACKStatus, ITT: ReservedTag, TTT: ReservedTag, ExpStatSN: 7, BegRun: 5, RunLength: 2},
		&R2T{LUN: MakeLUN(1), ITT: 3, TTT: 0x100, StatSN: 6, ExpCmdSN: 9, MaxCmdSN: 72, R2TSN: 1,
			BufferOffset: 65536, DesiredDataTransferLength: 65536},
		&AsyncMessage{StatSN: 8, ExpCmdSN: 9, MaxCmdSN: 72, Event: AsyncLogoutRequest, Parameter3: 10},
		&Reject{Reason: RejectProtocolError, StatSN: 9, ExpCmdSN: 9, MaxCmdSN: 72, Data: make([]byte, BHSLength)},
	}
}

func encode(t testing.TB, p PDU) []byte {
	t.Helper()
	b, err := p.AppendBinary(nil)
	require.NoError(t, err)
	return b
}

func TestFramerRoundTrip(t *testing.T) {
	for _, digests := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		var wire bytes.Buffer
		wf := NewFramer(nil, &wire)
		wf.SetDigests(digests[0], digests[1])
		for _, p := range samplePDUs() {
			require.NoError(t, wf.QueuePDU(p))
		}
		require.NoError(t, wf.Flush())
		require.Zero(t, wf.Buffered())

		rf := NewFramer(&wire, nil)
		rf.SetDigests(digests[0], digests[1])
		for _, want := range samplePDUs() {
			got, err := rf.ReadPDU()
			require.NoError(t, err, "digests %v, %v", digests, want.Opcode())
			require.Equal(t, encode(t, want), encode(t, got), "digests %v", digests)
		}
		_, err := rf.ReadPDU()
		require.ErrorIs(t, err, io.EOF)
	}
}

func TestFramerHeaderDigestMismatchIsSticky(t *testing.T) {
	wire := framed(t, true, true, samplePDUs()[0], samplePDUs()[1])
	wire[BHSLength] ^= 1 // first byte of the header digest
	f := NewFramer(bytes.NewReader(wire), nil)
	f.SetDigests(true, true)
	_, err := f.ReadPDU()
	var de *DigestError
	require.ErrorAs(t, err, &de)
	require.Equal(t, HeaderDigest, de.Kind)
	require.ErrorIs(t, err, ErrDigest)
	_, err2 := f.ReadPDU()
	require.Equal(t, err, err2, "a header digest error leaves the stream unusable")
}

func TestFramerDataDigestMismatchKeepsSync(t *testing.T) {
	first, second := samplePDUs()[0], samplePDUs()[2]
	wire := framed(t, false, true, first, second)
	wire[BHSLength] ^= 0xff // first data byte of the NOP-Out
	f := NewFramer(bytes.NewReader(wire), nil)
	f.SetDigests(false, true)
	p, err := f.ReadPDU()
	var de *DigestError
	require.ErrorAs(t, err, &de)
	require.Equal(t, DataDigest, de.Kind)
	require.Equal(t, OpNOPOut, p.Opcode())
	p, err = f.ReadPDU()
	require.NoError(t, err)
	require.Equal(t, encode(t, second), encode(t, p))
}

// countingReader counts the bytes handed out.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

func TestFramerLimitCheckedBeforeReading(t *testing.T) {
	big := &DataIn{ITT: 1, Data: make([]byte, 9000)}
	cr := &countingReader{r: bytes.NewReader(framed(t, false, false, big))}
	f := NewFramer(cr, nil)
	_, err := f.ReadHeader()
	var le *LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, uint64(9000), le.Value)
	require.Equal(t, uint64(DefaultMaxDataSegmentLength), le.Limit)
	require.Equal(t, BHSLength, cr.n, "nothing past the BHS may be read")

	f = NewFramer(bytes.NewReader(framed(t, false, false, big)), nil)
	f.SetMaxRecvDataSegmentLength(16384)
	p, err := f.ReadPDU()
	require.NoError(t, err)
	require.Len(t, p.Payload(), 9000)
}

func TestFramerReadDataIntoCallerBuffer(t *testing.T) {
	in := &DataIn{ITT: 7, DataSN: 0, BufferOffset: 4, Data: []byte("0123456789")}
	for _, digest := range []bool{false, true} {
		f := NewFramer(bytes.NewReader(framed(t, digest, digest, in, in)), nil)
		f.SetDigests(digest, digest)
		p, err := f.ReadHeader()
		require.NoError(t, err)
		require.Equal(t, 10, f.DataLength())
		require.Error(t, f.ReadData(make([]byte, 9)), "wrong size is refused")
		dst := make([]byte, 14)
		require.NoError(t, f.ReadData(dst[4:]))
		require.Equal(t, "0123456789", string(dst[4:]))
		require.Same(t, &dst[4], &p.(*DataIn).Data[0], "payload must alias the caller's buffer")
		_, err = f.ReadPDU()
		require.NoError(t, err)
	}
}

func TestFramerSkipsUnreadData(t *testing.T) {
	pdus := samplePDUs()
	f := NewFramer(bytes.NewReader(framed(t, false, true, pdus[0], pdus[1])), nil)
	f.SetDigests(false, true)
	_, err := f.ReadHeader()
	require.NoError(t, err)
	p, err := f.ReadHeader() // discards the NOP-Out's data
	require.NoError(t, err)
	require.Equal(t, OpNOPIn, p.Opcode())
}

func TestFramerFieldErrorKeepsSync(t *testing.T) {
	bad := framed(t, false, false, &R2T{ITT: 1, DesiredDataTransferLength: 1})
	be.PutUint32(bad[44:], 0) // DesiredDataTransferLength 0
	good := framed(t, false, false, samplePDUs()[1])
	f := NewFramer(bytes.NewReader(append(bad, good...)), nil)
	_, err := f.ReadPDU()
	require.ErrorIs(t, err, ErrInvalidField)
	p, err := f.ReadPDU()
	require.NoError(t, err)
	require.Equal(t, OpNOPIn, p.Opcode())
}

func TestFramerTruncatedStream(t *testing.T) {
	wire := framed(t, true, true, samplePDUs()[0])
	for i := 1; i < len(wire); i++ {
		f := NewFramer(bytes.NewReader(wire[:i]), nil)
		f.SetDigests(true, true)
		_, err := f.ReadPDU()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "prefix %d", i)
	}
}

func TestFramerSendLimit(t *testing.T) {
	f := NewFramer(nil, io.Discard)
	err := f.WritePDU(&DataOut{Data: make([]byte, DefaultMaxDataSegmentLength+1)})
	require.ErrorIs(t, err, ErrLimit)
	f.SetMaxSendDataSegmentLength(1 << 18)
	require.Equal(t, 1<<18, f.MaxSendDataSegmentLength())
	require.NoError(t, f.WritePDU(&DataOut{Data: make([]byte, DefaultMaxDataSegmentLength+1)}))
}

// vecWriter records WriteBuffers calls.
type vecWriter struct {
	calls int
	bufs  [][]byte
	out   bytes.Buffer
}

func (v *vecWriter) Write(b []byte) (int, error) { return 0, errors.New("Write must not be used") }

func (v *vecWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	v.calls++
	v.bufs = append(v.bufs[:0], bufs...)
	var n int64
	for _, b := range bufs {
		m, _ := v.out.Write(b)
		n += int64(m)
	}
	return n, nil
}

func TestFramerVectoredWriteKeepsPayloadUnjoined(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, 4093)
	vw := &vecWriter{}
	f := NewFramer(nil, vw)
	f.SetDigests(true, true)
	require.NoError(t, f.QueuePDU(&DataOut{ITT: 1, Data: payload}))
	require.NoError(t, f.QueuePDU(&NOPOut{ITT: 2, TTT: ReservedTag}))
	require.NoError(t, f.Flush())
	require.Equal(t, 1, vw.calls)
	require.Len(t, vw.bufs, 4) // header+digest, payload, padding+digest, NOP header+digest
	require.Same(t, &payload[0], &vw.bufs[1][0], "payload must be written from the caller's buffer")
	require.Equal(t, framed(t, true, true, &DataOut{ITT: 1, Data: payload}, &NOPOut{ITT: 2, TTT: ReservedTag}), vw.out.Bytes())
}

// framed writes PDUs through a Framer with the given digests.
func framed(t testing.TB, hd, dd bool, pdus ...PDU) []byte {
	t.Helper()
	var buf bytes.Buffer
	f := NewFramer(nil, &buf)
	f.SetDigests(hd, dd)
	f.SetMaxSendDataSegmentLength(MaxDataSegmentLength)
	for _, p := range pdus {
		require.NoError(t, f.WritePDU(p))
	}
	return buf.Bytes()
}

// loopReader serves the same bytes forever without allocating.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	payload := make([]byte, 65536)
	out := &DataOut{ITT: 1, TTT: 2, Data: payload}
	w := NewFramer(nil, io.Discard)
	w.SetDigests(true, true)
	w.SetMaxSendDataSegmentLength(len(payload))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		out.DataSN++
		if err := w.WritePDU(out); err != nil {
			t.Fatal(err)
		}
	}), "writing a Data-Out")

	in := &DataIn{ITT: 1, Data: payload}
	r := NewFramer(&loopReader{b: framed(t, true, true, in)}, nil)
	r.SetDigests(true, true)
	r.SetMaxRecvDataSegmentLength(len(payload))
	dst := make([]byte, len(payload))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := r.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if err := r.ReadData(dst); err != nil {
			t.Fatal(err)
		}
	}), "reading a Data-In into the caller's buffer")

	cmd := samplePDUs()[2]
	buf := make([]byte, 0, 128)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		b, err := cmd.AppendBinary(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Decode(b); err != nil {
			t.Fatal(err)
		}
	})-1, "encoding a SCSI Command; Decode allocates only the PDU it returns")
}
