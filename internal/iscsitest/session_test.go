package iscsitest

import (
	"bufio"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

var tur = make([]byte, 6) // TEST UNIT READY

// With a closed window (MaxCmdSN = ExpCmdSN-1) a non-immediate command is
// dropped; once the window opens, the same CmdSN is accepted.
func TestWindowClosed(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, MaxCmdSNWindow: WindowClosed})
	r := ti.login()
	require.Equal(t, r.ExpCmdSN-1, r.MaxCmdSN)

	ti.command(0, tur, 0, false, false, nil, true) // outside the window
	ti.cmdSN--                                     // not consumed
	ti.nopPing(nil)                                // immediate: still answered, and first
	require.Equal(t, 1, ti.conn().Stats().Dropped)

	ti.conn().SetCmdSNWindow(1)
	require.NoError(t, ti.conn().Ping())
	ping := recvAs[*pdu.NOPIn](ti)
	require.Equal(t, uint32(pdu.ReservedTag), ping.ITT)
	require.Equal(t, ping.ExpCmdSN, ping.MaxCmdSN, "window of one")
	ti.send(&pdu.NOPOut{Immediate: true, ITT: pdu.ReservedTag, TTT: ping.TTT, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN})

	itt := ti.command(0, tur, 0, false, false, nil, true)
	r2 := ti.status(itt)
	require.Equal(t, pdu.StatusGood, r2.Status)
	require.Equal(t, r2.ExpCmdSN, r2.MaxCmdSN+0, "window of one again after the command")
	require.Equal(t, ti.cmdSN, r2.ExpCmdSN)
	st := ti.conn().Stats()
	require.Equal(t, 1, st.PingsAnswered)
	require.Len(t, st.Violations, 1, "the dropped command")
	ti.logout()
}

// Commands arriving ahead of ExpCmdSN wait for the gap to fill.
func TestCmdSNReorder(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}})
	ti.login()
	base := ti.cmdSN
	ti.cmdSN = base + 1
	second := ti.command(0, tur, 0, false, false, nil, true)
	ti.cmdSN = base
	first := ti.command(0, tur, 0, false, false, nil, true)
	require.Equal(t, first, ti.status(first).ITT)
	r := ti.status(second)
	require.Equal(t, base+2, r.ExpCmdSN)
	ti.cmdSN = base + 2
	ti.logout()
}

func TestNOPOutEcho(t *testing.T) {
	ti := start(t, Config{})
	ti.login()
	in := ti.nopPing([]byte("echo me"))
	require.Equal(t, "echo me", string(in.Data))
	require.Equal(t, uint32(pdu.ReservedTag), in.TTT)
	in2 := ti.nopPing(nil)
	require.Equal(t, in.StatSN+1, in2.StatSN, "a NOP-In answer advances StatSN")
	ti.logout()
}

// The target pings every NOPInInterval and records the answers; synctest's
// clock makes this instant and exact.
func TestTargetPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := start(t, Config{NOPInInterval: 5 * time.Second})
		ti.login()
		begin := time.Now()
		ping := recvAs[*pdu.NOPIn](ti)
		require.Equal(t, 5*time.Second, time.Since(begin))
		require.NotEqual(t, uint32(pdu.ReservedTag), ping.TTT)
		require.Equal(t, ti.expStatSN, ping.StatSN, "a ping does not advance StatSN")
		ti.send(&pdu.NOPOut{Immediate: true, ITT: pdu.ReservedTag, TTT: ping.TTT, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN})

		recvAs[*pdu.NOPIn](ti) // at 10 s, left unanswered
		synctest.Wait()
		st := ti.conn().Stats()
		require.Equal(t, 2, st.PingsSent)
		require.Equal(t, 1, st.PingsAnswered)
		ti.logout()
	})
}

// A held command can be aborted: the TMF response says so and the command
// gets no response; another held command is released.
func TestAbortHeldCommand(t *testing.T) {
	hold := func(_ *Conn, cdb []byte) bool { return cdb[0] == 0x00 }
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, Hooks: Hooks{HoldCommand: hold}})
	ti.login()
	held := ti.command(0, tur, 0, false, false, nil, true)
	ti.nopPing(nil) // the TUR was received and held
	require.Equal(t, []uint32{held}, ti.conn().Held())

	ti.itt++
	ti.send(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFAbortTask, LUN: pdu.MakeLUN(0), ITT: ti.itt,
		ReferencedTaskTag: held, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN, RefCmdSN: ti.cmdSN - 1})
	tm := recvAs[*pdu.TaskMgmtResponse](ti)
	require.Equal(t, pdu.TMFComplete, tm.Response)
	require.Empty(t, ti.conn().Held())

	ti.itt++
	ti.send(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFAbortTask, LUN: pdu.MakeLUN(0), ITT: ti.itt,
		ReferencedTaskTag: 0x999, CmdSN: ti.cmdSN, RefCmdSN: ti.cmdSN - 10})
	require.Equal(t, pdu.TMFTaskDoesNotExist, recvAs[*pdu.TaskMgmtResponse](ti).Response)

	again := ti.command(0, tur, 0, false, false, nil, true)
	ti.nopPing(nil)
	n, err := ti.conn().Release()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, pdu.StatusGood, ti.status(again).Status)
	ti.logout()
}

func TestLogicalUnitReset(t *testing.T) {
	hold := func(_ *Conn, cdb []byte) bool { return true }
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, Hooks: Hooks{HoldCommand: hold}})
	ti.login()
	ti.command(0, tur, 0, false, false, nil, true)
	ti.command(0, cdb10(0x28, 0, 1), 512, true, false, nil, true)
	ti.itt++
	ti.send(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFLogicalUnitReset, LUN: pdu.MakeLUN(0),
		ITT: ti.itt, ReferencedTaskTag: pdu.ReservedTag, CmdSN: ti.cmdSN})
	require.Equal(t, pdu.TMFComplete, recvAs[*pdu.TaskMgmtResponse](ti).Response)
	require.Empty(t, ti.conn().Held())
	ti.itt++
	ti.send(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFLogicalUnitReset, LUN: pdu.MakeLUN(4),
		ITT: ti.itt, ReferencedTaskTag: pdu.ReservedTag, CmdSN: ti.cmdSN})
	require.Equal(t, pdu.TMFLUNDoesNotExist, recvAs[*pdu.TaskMgmtResponse](ti).Response)
	ti.logout()
}

// After the Logout Response the target closes: the initiator reads EOF and
// Serve returns nil.
func TestLogoutCloses(t *testing.T) {
	ti := start(t, Config{})
	ti.login()
	ti.logout()
	_, err := ti.fr.ReadPDU()
	require.ErrorIs(t, err, io.EOF)
}

func TestSendAsync(t *testing.T) {
	ti := start(t, Config{})
	ti.login()
	require.NoError(t, ti.conn().SendAsync(pdu.AsyncMessage{Event: pdu.AsyncLogoutRequest, Parameter3: 10}))
	m := recvAs[*pdu.AsyncMessage](ti)
	require.Equal(t, pdu.AsyncLogoutRequest, m.Event)
	require.Equal(t, uint16(10), m.Parameter3)
	in := ti.nopPing(nil)
	require.Equal(t, m.StatSN+1, in.StatSN)
	ti.logout()
}

func TestSNACKRejected(t *testing.T) {
	ti := start(t, Config{})
	ti.login()
	ti.send(&pdu.SNACKRequest{Type: pdu.SNACKStatus, ITT: pdu.ReservedTag, TTT: pdu.ReservedTag, BegRun: 1})
	rej := recvAs[*pdu.Reject](ti)
	require.Equal(t, pdu.RejectProtocolError, rej.Reason)
	require.Equal(t, pdu.OpSNACKReq, rej.RejectedHeader().Opcode())
	ti.logout()
}

// BeforeSend hooks drop or rewrite PDUs; a dropped response leaves a StatSN
// gap the initiator can see.
func TestHookDropAndMutate(t *testing.T) {
	n := 0
	before := func(_ *Conn, p pdu.PDU) Action {
		r, ok := p.(*pdu.SCSIResponse)
		if !ok {
			return Continue
		}
		n++
		switch n {
		case 1:
			return Drop
		case 2:
			r.Status = pdu.StatusBusy
		}
		return Continue
	}
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, Hooks: Hooks{BeforeSend: before}})
	ti.login()
	ti.command(0, tur, 0, false, false, nil, true)
	expected := ti.expStatSN
	itt := ti.command(0, tur, 0, false, false, nil, true)
	r := ti.status(itt)
	require.Equal(t, pdu.StatusBusy, r.Status)
	require.Equal(t, expected+1, r.StatSN, "the dropped response consumed a StatSN")
	ti.logout()
}

// OnReceive can end the connection when a given PDU arrives.
func TestHookCloseOnReceive(t *testing.T) {
	onRecv := func(_ *Conn, p pdu.PDU) Action {
		if p.Opcode() == pdu.OpSCSICommand {
			return Reset
		}
		return Continue
	}
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, Hooks: Hooks{OnReceive: onRecv}})
	ti.login()
	ti.command(0, tur, 0, false, false, nil, true)
	_, err := ti.fr.ReadPDU()
	require.ErrorIs(t, err, syscall.ECONNRESET)
	require.NoError(t, ti.wait())
}

// Stall writes half of a PDU and then nothing: the initiator's read times
// out mid-PDU. WriteRaw sends arbitrary bytes.
func TestHookStallAndWriteRaw(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := func(_ *Conn, p pdu.PDU) Action {
			if p.Opcode() == pdu.OpDataIn {
				return Stall
			}
			return Continue
		}
		ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, Hooks: Hooks{BeforeSend: before}})
		ti.login()
		require.NoError(t, ti.conn().WriteRaw([]byte("garbage!")))
		raw := make([]byte, 8)
		_, err := io.ReadFull(ti.nc, raw)
		require.NoError(t, err)
		require.Equal(t, "garbage!", string(raw))

		ti.readCmd(0, cdb10(0x28, 0, 1), 512)
		require.NoError(t, ti.nc.SetReadDeadline(time.Now().Add(30*time.Second)))
		_, err = ti.fr.ReadPDU()
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Equal(t, 1, ti.conn().Stats().Received[pdu.OpSCSICommand])
		ti.conn().Kill()
		require.NoError(t, ti.wait())
	})
}

// Goroutines end with the connection: synctest fails the test if any
// goroutine of the bubble outlives it.
func TestNoGoroutineLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, end := range []func(ti *testInit){
			func(ti *testInit) { ti.logout() },
			func(ti *testInit) { ti.nc.Close() },
			func(ti *testInit) { ti.nc.CloseAbruptly() },
			func(ti *testInit) { ti.conn().Kill() },
			func(ti *testInit) { ti.tg.Close() },
		} {
			ti := start(t, Config{NOPInInterval: time.Second})
			ti.login()
			end(ti)
			require.NoError(t, ti.wait())
		}
	})
}

// Listen serves TCP connections on 127.0.0.1; Close stops everything.
func TestListenTCP(t *testing.T) {
	before := runtime.NumGoroutine()
	tg := New(Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}, NOPInInterval: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listened := make(chan error, 1)
	go func() { listened <- tg.Listen(ln) }()

	nc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	ti := &testInit{t: t, tg: tg, fr: pdu.NewFramer(bufio.NewReader(nc), nc), isid: pdu.ISID{0x80, 9},
		itt: 1, cmdSN: 1, mrdsl: 65536}
	ti.login()
	ti.nopPing([]byte("tcp"))
	require.Len(t, tg.Conns(), 1)

	require.NoError(t, tg.Close())
	require.NoError(t, <-listened)
	_, err = ti.fr.ReadPDU()
	require.Error(t, err)
	_, late := Pipe()
	require.ErrorIs(t, tg.Serve(late), ErrClosed)
	// Close waited for Serve; let the runtime reap the goroutines. Yielding
	// 1000 times was not always enough on a loaded machine (CI saw 3 > 2).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if runtime.NumGoroutine() <= before {
			break
		}
		time.Sleep(time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before)
}
