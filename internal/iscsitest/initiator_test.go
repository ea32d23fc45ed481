package iscsitest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

const testInitiatorName = "iqn.2024-01.dev.gomp:test-initiator"

// testInit is a minimal hand-written initiator driving a Target over a
// Pipe, one PDU at a time, so that tests see exactly what the target sends.
type testInit struct {
	t         testing.TB
	tg        *Target
	nc        *PipeConn
	fr        *pdu.Framer
	isid      pdu.ISID
	itt       uint32
	cmdSN     uint32
	expStatSN uint32
	maxCmdSN  uint32
	mrdsl     int // our declared MaxRecvDataSegmentLength
	served    chan error
}

// start serves one Pipe connection of a new Target built from cfg. The
// connection is closed and Serve awaited at cleanup.
func start(t testing.TB, cfg Config) *testInit {
	t.Helper()
	tg := New(cfg)
	ini, tgt := Pipe()
	ti := &testInit{t: t, tg: tg, nc: ini, fr: pdu.NewFramer(bufio.NewReader(ini), ini),
		isid: pdu.ISID{0x80, 1, 2, 3, 4, 5}, itt: 0x10, cmdSN: 100, mrdsl: 65536, served: make(chan error, 1)}
	go func() { ti.served <- tg.Serve(tgt) }()
	t.Cleanup(func() {
		ini.Close()
		<-ti.served
	})
	return ti
}

// wait returns Serve's result once it returned; use it only once.
func (ti *testInit) wait() error {
	err := <-ti.served
	ti.served <- err
	return err
}

func (ti *testInit) conn() *Conn {
	cs := ti.tg.Conns()
	require.Len(ti.t, cs, 1)
	return cs[0]
}

func (ti *testInit) send(p pdu.PDU) {
	ti.t.Helper()
	require.NoError(ti.t, ti.fr.WritePDU(p))
}

// recv reads one PDU and returns a private copy, tracking StatSN and
// MaxCmdSN.
func (ti *testInit) recv() pdu.PDU {
	ti.t.Helper()
	p, err := ti.fr.ReadPDU()
	require.NoError(ti.t, err)
	raw, err := p.AppendBinary(nil)
	require.NoError(ti.t, err)
	q, _, err := pdu.Decode(raw)
	require.NoError(ti.t, err)
	ti.track(q)
	return q
}

func (ti *testInit) track(p pdu.PDU) {
	switch p := p.(type) {
	case *pdu.SCSIResponse:
		ti.expStatSN, ti.maxCmdSN = p.StatSN+1, p.MaxCmdSN
	case *pdu.LoginResponse:
		ti.expStatSN, ti.maxCmdSN = p.StatSN+1, p.MaxCmdSN
	case *pdu.TextResponse:
		ti.expStatSN, ti.maxCmdSN = p.StatSN+1, p.MaxCmdSN
	case *pdu.NOPIn:
		if p.ITT != pdu.ReservedTag {
			ti.expStatSN = p.StatSN + 1
		}
		ti.maxCmdSN = p.MaxCmdSN
	case *pdu.DataIn:
		if p.StatusValid {
			ti.expStatSN = p.StatSN + 1
		}
		ti.maxCmdSN = p.MaxCmdSN
	case *pdu.TaskMgmtResponse:
		ti.expStatSN, ti.maxCmdSN = p.StatSN+1, p.MaxCmdSN
	case *pdu.LogoutResponse:
		ti.expStatSN = p.StatSN + 1
	case *pdu.AsyncMessage:
		ti.expStatSN = p.StatSN + 1
	}
}

func recvAs[T pdu.PDU](ti *testInit) T {
	ti.t.Helper()
	p := ti.recv()
	v, ok := p.(T)
	require.True(ti.t, ok, "got %v", p.Opcode())
	return v
}

func text(t testing.TB, kvs ...pdu.KeyValue) []byte {
	b, err := pdu.AppendText(nil, kvs...)
	require.NoError(t, err)
	return b
}

func kv(k, v string) pdu.KeyValue { return pdu.KeyValue{Key: k, Value: v} }

func parse(t testing.TB, b []byte) []pdu.KeyValue {
	kvs, err := pdu.ParseText(b, pdu.TextLimits{})
	require.NoError(t, err)
	return kvs
}

func lookup(t testing.TB, b []byte, key string) string {
	v, _ := pdu.Lookup(parse(t, b), key)
	return v
}

// loginStep sends one Login Request and returns the response.
func (ti *testInit) loginStep(csg, nsg pdu.Stage, transit bool, kvs ...pdu.KeyValue) *pdu.LoginResponse {
	ti.t.Helper()
	ti.send(&pdu.LoginRequest{Transit: transit, CSG: csg, NSG: nsg, ISID: ti.isid, ITT: ti.itt,
		CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN, Data: text(ti.t, kvs...)})
	return recvAs[*pdu.LoginResponse](ti)
}

// normalKeys are the leading keys of a normal session with tg.
func (ti *testInit) normalKeys(extra ...pdu.KeyValue) []pdu.KeyValue {
	return append([]pdu.KeyValue{kv("InitiatorName", testInitiatorName),
		kv("TargetName", ti.tg.Name()), kv("SessionType", "Normal")}, extra...)
}

// login logs in with one operational-stage request, and applies the
// negotiated digests and limits.
func (ti *testInit) login(extra ...pdu.KeyValue) *pdu.LoginResponse {
	ti.t.Helper()
	keys := ti.normalKeys(append([]pdu.KeyValue{kv("MaxRecvDataSegmentLength", "65536")}, extra...)...)
	resp := ti.loginStep(pdu.StageOperational, pdu.StageFullFeature, true, keys...)
	require.Equal(ti.t, pdu.LoginSuccess, resp.Status)
	ti.finishLogin(resp)
	return resp
}

// finishLogin applies a final login response to the Framer.
func (ti *testInit) finishLogin(resp *pdu.LoginResponse) {
	ti.t.Helper()
	require.True(ti.t, resp.Transit)
	require.Equal(ti.t, pdu.StageFullFeature, resp.NSG)
	require.NotZero(ti.t, resp.TSIH)
	kvs := parse(ti.t, resp.Data)
	hd, _ := pdu.Lookup(kvs, "HeaderDigest")
	dd, _ := pdu.Lookup(kvs, "DataDigest")
	ti.fr.SetDigests(hd == "CRC32C", dd == "CRC32C")
	if v, ok := pdu.Lookup(kvs, "MaxRecvDataSegmentLength"); ok {
		n, err := pdu.ParseNumber(v)
		require.NoError(ti.t, err)
		ti.fr.SetMaxSendDataSegmentLength(int(n))
	}
	ti.fr.SetMaxRecvDataSegmentLength(ti.mrdsl)
}

// command sends a SCSI Command and returns its ITT.
func (ti *testInit) command(lun uint16, cdb []byte, edtl uint32, read, write bool, imm []byte, final bool) uint32 {
	ti.t.Helper()
	ti.itt++
	ti.send(&pdu.SCSICommand{Final: final, Read: read, Write: write, Attr: pdu.AttrSimple,
		LUN: pdu.MakeLUN(lun), ITT: ti.itt, ExpectedDataTransferLength: edtl, CmdSN: ti.cmdSN,
		ExpStatSN: ti.expStatSN, CDB: cdb, Data: imm})
	ti.cmdSN++
	return ti.itt
}

// readCmd sends a read command without data out.
func (ti *testInit) readCmd(lun uint16, cdb []byte, edtl uint32) uint32 {
	return ti.command(lun, cdb, edtl, true, false, nil, true)
}

// collectRead gathers Data-In until status; it returns the data and the
// status-bearing PDU (a *pdu.SCSIResponse or the last *pdu.DataIn).
func (ti *testInit) collectRead(itt uint32) ([]byte, []*pdu.DataIn, pdu.PDU) {
	ti.t.Helper()
	var data []byte
	var ins []*pdu.DataIn
	for {
		switch p := ti.recv().(type) {
		case *pdu.DataIn:
			require.Equal(ti.t, itt, p.ITT)
			require.Equal(ti.t, uint32(len(data)), p.BufferOffset)
			data = append(data, p.Data...)
			ins = append(ins, p)
			if p.StatusValid {
				return data, ins, p
			}
		case *pdu.SCSIResponse:
			require.Equal(ti.t, itt, p.ITT)
			return data, ins, p
		default:
			ti.t.Fatalf("unexpected %v", p.Opcode())
		}
	}
}

// status reads the SCSI Response of itt.
func (ti *testInit) status(itt uint32) *pdu.SCSIResponse {
	ti.t.Helper()
	r := recvAs[*pdu.SCSIResponse](ti)
	require.Equal(ti.t, itt, r.ITT)
	return r
}

// senseOf returns sense key, ASC and ASCQ of a CHECK CONDITION response.
func senseOf(t testing.TB, r *pdu.SCSIResponse) (key, asc, ascq byte) {
	t.Helper()
	require.Equal(t, pdu.StatusCheckCondition, r.Status)
	sense, _, err := r.Sense()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(sense), 14)
	require.Equal(t, byte(0x70), sense[0])
	return sense[2] & 0x0f, sense[12], sense[13]
}

func (ti *testInit) nopPing(data []byte) *pdu.NOPIn {
	ti.t.Helper()
	ti.itt++
	ti.send(&pdu.NOPOut{Immediate: true, ITT: ti.itt, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN,
		ExpStatSN: ti.expStatSN, Data: data})
	in := recvAs[*pdu.NOPIn](ti)
	require.Equal(ti.t, ti.itt, in.ITT)
	return in
}

func (ti *testInit) logout() {
	ti.t.Helper()
	ti.itt++
	ti.send(&pdu.LogoutRequest{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: ti.itt,
		CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN})
	r := recvAs[*pdu.LogoutResponse](ti)
	require.Equal(ti.t, pdu.LogoutSuccess, r.Response)
	require.NoError(ti.t, ti.wait())
}

// CDB builders.

func cdb10(op byte, lba uint32, blocks uint16) []byte {
	c := make([]byte, 10)
	c[0] = op
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint16(c[7:], blocks)
	return c
}

func cdb16(op byte, lba uint64, blocks uint32) []byte {
	c := make([]byte, 16)
	c[0] = op
	binary.BigEndian.PutUint64(c[2:], lba)
	binary.BigEndian.PutUint32(c[10:], blocks)
	return c
}

func inquiryCDB(evpd bool, page byte, alloc uint16) []byte {
	c := []byte{0x12, 0, page, 0, 0, 0}
	if evpd {
		c[1] = 1
	}
	binary.BigEndian.PutUint16(c[3:], alloc)
	return c
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// corruptDataDigest encodes p with data digests and flips its data digest.
func corruptDataDigest(t testing.TB, p pdu.PDU, headerDigest bool) []byte {
	var buf bytes.Buffer
	f := pdu.NewFramer(nil, &buf)
	f.SetDigests(headerDigest, true)
	f.SetMaxSendDataSegmentLength(pdu.MaxDataSegmentLength)
	require.NoError(t, f.WritePDU(p))
	b := buf.Bytes()
	b[len(b)-1] ^= 0xff
	return b
}
