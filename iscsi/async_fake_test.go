package iscsi

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// A target's logout request makes the session log out; with Recover it
// logs in again after DefaultTime2Wait.
func TestAsyncLogoutRequest(t *testing.T) {
	for _, recover := range []bool{false, true} {
		t.Run(map[bool]string{false: "no recover", true: "recover"}[recover], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(t, iscsitest.Config{})
				s := f.dial(t, func(c *Config) { c.Recover, c.ReplacementTimeout = recover, time.Minute })
				first := f.conn(t)
				start := time.Now()
				require.NoError(t, first.SendAsync(pdu.AsyncMessage{Event: pdu.AsyncLogoutRequest, Parameter3: 10}))
				<-first.Done()
				synctest.Wait()
				require.Equal(t, 1, first.Stats().Received[pdu.OpLogoutReq], "logged out")
				require.Equal(t, 1, first.Stats().Sent[pdu.OpLogoutResp])
				if !recover {
					require.Equal(t, StateClosed, s.State())
					require.ErrorIs(t, s.Ping(ctxT(t)), ErrSessionClosed)
					return
				}
				require.Equal(t, StateFailed, s.State())
				require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 4096))), "waits for the new login")
				require.Equal(t, 2*time.Second, time.Since(start))
				require.Len(t, f.Conns(), 2)
				require.Equal(t, uint64(1), s.Stats().Reconnects)
			})
		})
	}
}

// A target announcing it drops the connection: the connection fails at
// once and the session is reinstated after the Time2Wait the message gave
// (Parameter2), not the negotiated one; Parameter2 = 0 means at once.
func TestAsyncDropConnection(t *testing.T) {
	for _, ev := range []pdu.AsyncEvent{pdu.AsyncDropConnection, pdu.AsyncDropAllConnections} {
		for _, t2w := range []uint16{7, 0} {
			t.Run(fmt.Sprintf("%v/time2wait=%d", ev, t2w), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newFake(t, iscsitest.Config{})
					s := f.dial(t, func(c *Config) { c.Recover, c.ReplacementTimeout = true, time.Minute })
					start := time.Now()
					require.NoError(t, f.conn(t).SendAsync(pdu.AsyncMessage{Event: ev, Parameter2: t2w, Parameter3: 20}))
					synctest.Wait()
					require.ErrorContains(t, s.LastError(), "drops the connection")
					require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 4096))))
					require.Equal(t, time.Duration(t2w)*time.Second, time.Since(start))
				})
			})
		}
	}
}

// A SCSI asynchronous event is logged; the session carries on. So do
// parameter negotiation requests and vendor events, which we ignore.
func TestAsyncEventsHarmless(t *testing.T) {
	sense := []byte{0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x2a, 0x09} // CAPACITY DATA HAS CHANGED
	msgs := []pdu.AsyncMessage{
		{Event: pdu.AsyncSCSIEvent, LUN: pdu.MakeLUN(fakeLUN), Data: pdu.AppendSenseSegment(nil, sense, nil)},
		{Event: pdu.AsyncParameterNegotiation},
		{Event: pdu.AsyncVendorSpecific, VendorCode: 7},
	}
	f := newFake(t, iscsitest.Config{})
	s := f.dial(t)
	for _, m := range msgs {
		require.NoError(t, f.conn(t).SendAsync(m))
		require.NoError(t, s.Ping(ctxT(t)))
		require.Equal(t, StateLoggedIn, s.State())
	}
	require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 4096))))
	log := f.log.String()
	require.Contains(t, log, "iscsi target reports a SCSI event")
	require.True(t, strings.Contains(log, "2a") || strings.Contains(log, "CAPACITY"), log)
	require.Contains(t, log, "parameter negotiation")
	require.Len(t, f.Conns(), 1)
}
