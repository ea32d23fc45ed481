package iscsi

import (
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// The session's PDU counters agree, opcode by opcode, with what the fake
// target counted on its end of the connection, login included; the data
// byte counters with the payload moved.
func TestSessionStatsMatchTheTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  iscsitest.Config
	}{
		{"immediate data", iscsitest.Config{}},
		{"R2T and split Data-In", iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true, DataInSplit: 4096}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.cfg)
			s := f.dial(t)
			ctx := ctxT(t)
			const reads, writes, size = 5, 3, 64 << 10
			for i := range writes {
				require.NoError(t, s.Do(ctx, writeCmd(uint64(i*128), pattern(size, byte(i)))))
			}
			for i := range reads {
				require.NoError(t, s.Do(ctx, readCmd(uint64(i*128), make([]byte, size))))
			}
			require.NoError(t, s.Ping(ctx), "the target's counters are up to date")

			st := s.Stats()
			ts := f.conn(t).Stats()
			require.Equal(t, byOpcodeName(ts.Received), st.PDUsOut, "PDUs the initiator sent")
			require.Equal(t, byOpcodeName(ts.Sent), st.PDUsIn, "PDUs the initiator received")
			require.NotZero(t, st.PDUsOut["login_request"])
			require.Equal(t, uint64(reads*size), st.DataInBytes)
			require.Equal(t, uint64(writes*size), st.DataOutBytes)
			require.Equal(t, uint64(reads+writes), st.Commands)
			require.Equal(t, "logged-in", st.State)
			require.Equal(t, fakePortal, st.Portal)
			require.NotZero(t, st.TSIH)
			require.Zero(t, st.DigestErrors+st.NOPTimeouts+st.TaskAborts+st.Reconnects+st.ConnectionFailures)
		})
	}
}

// byOpcodeName turns the fake target's counts into SessionStats' form.
func byOpcodeName(m map[pdu.Opcode]int) map[string]uint64 {
	out := map[string]uint64{}
	for op, n := range m {
		if n > 0 {
			out[OpcodeName(op)] = uint64(n)
		}
	}
	return out
}

// A lost connection, failed reconnect attempts and the reinstatement show
// in the counters, with the last login error.
func TestSessionStatsReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{})
		s := f.dial(t, func(c *Config) { c.Recover, c.ReplacementTimeout = true, time.Minute })
		logins := s.Stats().PDUsOut["login_request"]
		f.refuseDials(2)
		f.conn(t).Kill()
		synctest.Wait()
		require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 512))), "waits for the reinstated session")
		st := s.Stats()
		require.Equal(t, uint64(1), st.ConnectionFailures)
		require.Equal(t, uint64(2), st.LoginFailures)
		require.Equal(t, uint64(1), st.Reconnects)
		require.Contains(t, st.LastLoginError, "connection refused")
		require.Equal(t, 2*logins, st.PDUsOut["login_request"], "counted for the logins that succeeded")

		b, err := json.Marshal(st)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		for _, k := range []string{"portal", "target", "isid", "tsih", "state", "pdus_in", "pdus_out",
			"data_in_bytes", "data_out_bytes", "commands", "digest_errors", "nop_timeouts", "task_aborts",
			"connection_failures", "reconnects", "login_failures", "last_login_error"} {
			require.Contains(t, m, k)
		}
	})
}

func TestOpcodeName(t *testing.T) {
	for op, want := range map[pdu.Opcode]string{pdu.OpSCSICommand: "scsi_command", pdu.OpDataIn: "data_in",
		pdu.OpR2T: "r2t", pdu.OpNOPOut: "nop_out", pdu.Opcode(0x1c): "0x1c"} {
		require.Equal(t, want, OpcodeName(op))
	}
}
