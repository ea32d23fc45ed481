package iscsitest

import (
	"io"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// onOpcode returns a BeforeSend hook answering a for every PDU of opcode op.
func onOpcode(op pdu.Opcode, a Action) func(*Conn, pdu.PDU) Action {
	return func(_ *Conn, p pdu.PDU) Action {
		if p.Opcode() == op {
			return a
		}
		return Continue
	}
}

// Truncate sends a PDU's header and never its data segment.
func TestHookTruncate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(8, 512)},
			Hooks: Hooks{BeforeSend: onOpcode(pdu.OpDataIn, Truncate)}})
		ti.login()
		ti.readCmd(0, cdb10(0x28, 0, 1), 512)
		p, err := ti.fr.ReadHeader()
		require.NoError(t, err, "the header arrives whole")
		require.Equal(t, pdu.OpDataIn, p.Opcode())
		require.Equal(t, 512, ti.fr.DataLength())
		require.NoError(t, ti.nc.SetReadDeadline(time.Now().Add(time.Minute)))
		err = ti.fr.ReadData(nil)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the data never does")
		ti.conn().Kill()
		require.NoError(t, ti.wait())
	})
}

// Trickle writes a PDU one byte per TrickleInterval.
func TestHookTrickle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := start(t, Config{TrickleInterval: time.Second,
			Hooks: Hooks{BeforeSend: onOpcode(pdu.OpNOPIn, Trickle)}})
		ti.login()
		start := time.Now()
		in := ti.nopPing([]byte("slow"))
		require.Equal(t, "slow", string(in.Data))
		require.Equal(t, time.Duration(pdu.BHSLength+4)*time.Second, time.Since(start), "one byte a second")
		ti.logout()
	})
}

// Killing the connection stops a trickle at once.
func TestHookTrickleKilled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := start(t, Config{Hooks: Hooks{BeforeSend: onOpcode(pdu.OpNOPIn, Trickle)}})
		ti.login()
		ti.send(&pdu.NOPOut{Immediate: true, ITT: 7, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN})
		time.Sleep(10*time.Second + time.Second/2)
		synctest.Wait()
		ti.conn().Kill()
		require.NoError(t, ti.wait())
		got, err := io.ReadAll(ti.nc)
		require.NoError(t, err)
		require.Len(t, got, 10, "ten seconds, ten bytes")
	})
}

// Rewrite forges the encoded bytes: here an AHS length that lies.
func TestHookRewrite(t *testing.T) {
	rewrite := func(_ *Conn, p pdu.PDU, wire []byte) []byte {
		if p.Opcode() == pdu.OpNOPIn {
			wire[4] = 1 // one word of AHS that is not there
		}
		return wire
	}
	ti := start(t, Config{Hooks: Hooks{Rewrite: rewrite}})
	ti.login()
	ti.send(&pdu.NOPOut{Immediate: true, ITT: 7, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN})
	hdr := make([]byte, pdu.BHSLength)
	_, err := io.ReadFull(ti.nc, hdr)
	require.NoError(t, err)
	require.Equal(t, byte(pdu.OpNOPIn), hdr[0]&0x3f)
	require.Equal(t, byte(1), hdr[4], "TotalAHSLength forged")
	ti.conn().Kill()
	require.NoError(t, ti.wait())
}

// Inject writes a forged PDU without touching the protocol state: the
// next real response has the StatSN Numbers announced.
func TestInject(t *testing.T) {
	ti := start(t, Config{})
	ti.login()
	statSN, expCmdSN, maxCmdSN := ti.conn().Numbers()
	require.Equal(t, ti.cmdSN, expCmdSN)
	require.Equal(t, expCmdSN+DefaultCmdSNWindow-1, maxCmdSN)
	forged := &pdu.DataIn{Final: true, ITT: 0xdead, TTT: pdu.ReservedTag, ExpCmdSN: expCmdSN,
		MaxCmdSN: maxCmdSN, Data: []byte("not yours")}
	require.NoError(t, ti.conn().Inject(forged))
	d := recvAs[*pdu.DataIn](ti)
	require.Equal(t, uint32(0xdead), d.ITT)
	require.Equal(t, "not yours", string(d.Data))
	in := ti.nopPing(nil)
	require.Equal(t, statSN, in.StatSN)
	require.Zero(t, ti.conn().Stats().Sent[pdu.OpDataIn], "an injected PDU is not counted")
	ti.logout()
}
