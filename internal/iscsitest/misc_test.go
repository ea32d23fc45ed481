package iscsitest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// The target records the rules an initiator breaks, and answers PDUs it
// cannot decode with a Reject.
func TestViolationsRecorded(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(64, 512)}})
	ti.login(kv("ImmediateData", "No"))
	itt := ti.command(0, cdb10(0x2a, 0, 2), 1024, false, true, pattern(512, 1), true)
	r2t := recvAs[*pdu.R2T](ti)
	require.Equal(t, uint32(512), r2t.BufferOffset, "immediate data is taken anyway")
	ti.send(&pdu.DataOut{Final: true, ITT: 0x4444, TTT: r2t.TTT})
	ti.send(&pdu.DataOut{Final: true, ITT: itt, TTT: r2t.TTT, BufferOffset: 512, Data: pattern(512, 2)})
	require.Equal(t, pdu.StatusGood, ti.status(itt).Status)

	hdr := make([]byte, pdu.BHSLength)
	hdr[0] = 0x1c // a vendor-specific opcode
	_, err := ti.nc.Write(hdr)
	require.NoError(t, err)
	rej := recvAs[*pdu.Reject](ti)
	require.Equal(t, pdu.RejectCommandNotSupported, rej.Reason)

	v := ti.conn().Stats().Violations
	require.Len(t, v, 3)
	require.Contains(t, v[0], "ImmediateData=No")
	require.Contains(t, v[1], "unknown ITT")
	ti.logout()
}

// ABORT TASK for a command that has not arrived consumes its CmdSN: the
// command is never executed, and later ones are.
func TestAbortTaskNotArrived(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}})
	ti.login()
	lost := ti.cmdSN
	ti.cmdSN++
	later := ti.command(0, tur, 0, false, false, nil, true) // queued behind the gap
	ti.itt++
	ti.send(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFAbortTask, LUN: pdu.MakeLUN(0), ITT: ti.itt,
		ReferencedTaskTag: 0x777, CmdSN: ti.cmdSN, RefCmdSN: lost})
	require.Equal(t, pdu.TMFComplete, recvAs[*pdu.TaskMgmtResponse](ti).Response)
	r := ti.status(later)
	require.Equal(t, ti.cmdSN, r.ExpCmdSN)
	ti.logout()
}

func TestMinorCommands(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 4096)}})
	ti.login()
	for _, tc := range []struct {
		cdb  []byte
		want []byte
	}{
		{[]byte{0x03, 0, 0, 0, 18, 0}, append([]byte{0x70, 0, 0, 0, 0, 0, 0, 10}, make([]byte, 10)...)},
		{[]byte{0x1a, 0, 0x3f, 0, 255, 0}, append([]byte{23, 0, 0x10, 0, 0x08, 18, 0x04}, make([]byte, 17)...)},
		{[]byte{0x5a, 0, 0x08, 0, 0, 0, 0, 0, 255, 0}, append([]byte{0, 26, 0, 0x10, 0, 0, 0, 0, 0x08, 18, 0x04}, make([]byte, 17)...)},
		{[]byte{0x1a, 0, 0x08, 0, 4, 0}, []byte{23, 0, 0x10, 0}},
		{cdb10(0x35, 0, 8), nil},
		{cdb16(0x91, 0, 0), nil},
	} {
		itt := ti.readCmd(0, tc.cdb, 255)
		data, _, st := ti.collectRead(itt)
		require.Equal(t, pdu.StatusGood, st.(*pdu.SCSIResponse).Status, "%x", tc.cdb)
		require.Equal(t, tc.want, data, "%x", tc.cdb)
	}
	itt := ti.readCmd(0, cdb10(0x35, 7, 2), 0)
	key, asc, _ := senseOf(t, ti.status(itt))
	require.Equal(t, [2]byte{0x05, 0x21}, [2]byte{key, asc})
	ti.logout()
}

// OnConnect and OnLogin see the connection; OnLogin may use the locking
// methods, here to send an Asynchronous Message before anything else.
func TestHooksLifecycle(t *testing.T) {
	var connected *Conn
	hooks := Hooks{
		OnConnect: func(c *Conn) { connected = c },
		OnLogin: func(c *Conn) {
			require.Equal(t, testInitiatorName, c.Params().InitiatorName)
			require.NoError(t, c.SendAsync(pdu.AsyncMessage{Event: pdu.AsyncDropConnection, Parameter2: 2}))
		},
	}
	ti := start(t, Config{Hooks: hooks})
	ti.login()
	require.Same(t, connected, ti.conn())
	require.Equal(t, pdu.AsyncDropConnection, recvAs[*pdu.AsyncMessage](ti).Event)
	ti.logout()
	<-connected.Done()
}

// Dial serves a Pipe for any address until Close, which ends the
// connection (or has it refused, if Serve had not begun); after Close,
// Dial refuses.
func TestDial(t *testing.T) {
	tg := New(Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)}})
	nc, err := tg.Dial(context.Background(), "tcp", "192.0.2.1:3260")
	require.NoError(t, err)
	require.NoError(t, tg.Close())
	_, err = nc.Read(make([]byte, 1))
	require.Error(t, err, "Close killed the connection")
	_, err = tg.Dial(context.Background(), "tcp", "192.0.2.1:3260")
	require.ErrorIs(t, err, ErrClosed)
}
