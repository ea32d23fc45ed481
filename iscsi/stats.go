package iscsi

import (
	"fmt"
	"sync/atomic"

	"github.com/gomp-dev/gomp/pdu"
)

// sessionCounters are a session's counters, kept with atomic adds on the
// I/O path (no lock, no allocation). Session.Stats copies them.
type sessionCounters struct {
	PDUsIn, PDUsOut         [64]atomic.Uint64 // by opcode (6 bits)
	BytesRead, BytesWritten atomic.Uint64     // Data-In payload; Data-Out and immediate data
	Commands                atomic.Uint64
	DigestErrors            atomic.Uint64
	NOPTimeouts             atomic.Uint64
	Aborts                  atomic.Uint64
	Reconnects              atomic.Uint64
}

// countOut counts a PDU the writer put on the wire, and the immediate
// data of a SCSI Command.
func (c *sessionCounters) countOut(p pdu.PDU) {
	c.PDUsOut[p.Opcode()&0x3f].Add(1)
	if cmd, ok := p.(*pdu.SCSICommand); ok && len(cmd.Data) > 0 {
		c.BytesWritten.Add(uint64(len(cmd.Data)))
	}
}

// SessionStats is a snapshot of a session's counters, like
// "iscsiadm -m session -s". Counters run from Dial and survive
// reinstatements. Its JSON form (field names in the tags) is stable.
type SessionStats struct {
	Portal string `json:"portal"`
	Target string `json:"target"`
	ISID   string `json:"isid"`
	TSIH   uint16 `json:"tsih"`
	State  string `json:"state"` // logged-in, failed or closed
	// PDUsIn and PDUsOut count PDUs by opcode name (OpcodeName: "scsi_command",
	// "data_in", "nop_out", …), login PDUs included; opcodes never seen are
	// left out.
	PDUsIn  map[string]uint64 `json:"pdus_in"`
	PDUsOut map[string]uint64 `json:"pdus_out"`
	// DataInBytes and DataOutBytes are the SCSI payload bytes received
	// (Data-In) and sent (immediate data and Data-Out), iscsiadm's
	// rxdata_octets and txdata_octets.
	DataInBytes  uint64 `json:"data_in_bytes"`
	DataOutBytes uint64 `json:"data_out_bytes"`
	Commands     uint64 `json:"commands"`      // SCSI commands sent
	DigestErrors uint64 `json:"digest_errors"` // header or data digest mismatches received
	NOPTimeouts  uint64 `json:"nop_timeouts"`  // connections dropped for an unanswered NOP-Out
	TaskAborts   uint64 `json:"task_aborts"`   // ABORT TASK sent for commands whose caller gave up
	// ConnectionFailures counts connections lost; Reconnects the
	// reinstatements that succeeded and LoginFailures the attempts that
	// did not, the last of which is LastLoginError.
	ConnectionFailures uint64 `json:"connection_failures"`
	Reconnects         uint64 `json:"reconnects"`
	LoginFailures      uint64 `json:"login_failures"`
	LastLoginError     string `json:"last_login_error,omitempty"`
	LastError          string `json:"last_error,omitempty"` // what last failed the connection
}

// sessionHealth is the part of SessionStats guarded by Session.mu.
type sessionHealth struct {
	connFailures  uint64
	loginFailures uint64
	lastLoginErr  error
}

// Stats returns a snapshot of the session's counters. It takes the
// session's lock briefly and is safe to call at any time.
func (s *Session) Stats() SessionStats {
	st := SessionStats{Portal: s.cfg.Portal, Target: s.cfg.TargetName, ISID: s.cfg.ISID.String(),
		PDUsIn: countsByOpcode(&s.stats.PDUsIn), PDUsOut: countsByOpcode(&s.stats.PDUsOut),
		DataInBytes: s.stats.BytesRead.Load(), DataOutBytes: s.stats.BytesWritten.Load(),
		Commands: s.stats.Commands.Load(), DigestErrors: s.stats.DigestErrors.Load(),
		NOPTimeouts: s.stats.NOPTimeouts.Load(), TaskAborts: s.stats.Aborts.Load(),
		Reconnects: s.stats.Reconnects.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.TSIH, st.State = s.tsih, s.state.String()
	st.ConnectionFailures, st.LoginFailures = s.health.connFailures, s.health.loginFailures
	if s.health.lastLoginErr != nil {
		st.LastLoginError = s.health.lastLoginErr.Error()
	}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	return st
}

func countsByOpcode(c *[64]atomic.Uint64) map[string]uint64 {
	m := make(map[string]uint64)
	for op := range c {
		if n := c[op].Load(); n > 0 {
			m[OpcodeName(pdu.Opcode(op))] = n
		}
	}
	return m
}

var opcodeNames = map[pdu.Opcode]string{
	pdu.OpNOPOut: "nop_out", pdu.OpSCSICommand: "scsi_command", pdu.OpTaskMgmtReq: "tmf_request",
	pdu.OpLoginReq: "login_request", pdu.OpTextReq: "text_request", pdu.OpDataOut: "data_out",
	pdu.OpLogoutReq: "logout_request", pdu.OpSNACKReq: "snack_request",
	pdu.OpNOPIn: "nop_in", pdu.OpSCSIResponse: "scsi_response", pdu.OpTaskMgmtResp: "tmf_response",
	pdu.OpLoginResp: "login_response", pdu.OpTextResp: "text_response", pdu.OpDataIn: "data_in",
	pdu.OpLogoutResp: "logout_response", pdu.OpR2T: "r2t", pdu.OpAsyncMessage: "async_message",
	pdu.OpReject: "reject",
}

// OpcodeName returns the short, label-friendly name SessionStats uses for
// an opcode ("scsi_command", "r2t", …), or "0xNN" for an unknown one.
func OpcodeName(op pdu.Opcode) string {
	if s, ok := opcodeNames[op]; ok {
		return s
	}
	return fmt.Sprintf("0x%02x", uint8(op))
}
