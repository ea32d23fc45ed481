package iscsi

import (
	"github.com/gomp-dev/gomp/iscsi/internal/negotiate"
)

// Choice is a boolean proposal of Negotiation whose zero value,
// ProposeDefault, proposes our default.
type Choice uint8

// Choices for the boolean proposals of Negotiation (InitialR2T,
// ImmediateData, DataPDUInOrder, DataSequenceInOrder): the zero value
// proposes the default.
const (
	ProposeDefault Choice = iota
	ProposeYes
	ProposeNo
)

// String returns "Default", "Yes" or "No", or "Choice(N)" for an unknown
// value.
func (c Choice) String() string { return negotiate.Choice(c).String() }

// Negotiation holds our operational key proposals (RFC 7143 §13) for a
// login. The zero value is valid and tuned for throughput: ImmediateData=Yes,
// InitialR2T=No, 256 KiB data segments, 1 MiB bursts, 8 outstanding R2Ts.
// Each field names its key and says its default; out-of-range values are
// clamped into the key's range at login (Validate reports them instead).
// What the target agreed to is in Session.Params.
type Negotiation struct {
	// HeaderDigest and DataDigest (§13.1) list "CRC32C" and/or "None" in
	// order of preference. Default {"None"}. Leaving "None" out makes
	// digests mandatory: the login fails if the target will not use them.
	HeaderDigest, DataDigest []string

	// MaxRecvDataSegmentLength (§13.12) we declare: the largest data
	// segment the target may send us (512..16777215). Default 262144, as
	// open-iscsi: a 1 MiB read is four Data-In PDUs.
	MaxRecvDataSegmentLength int
	// MaxBurstLength (§13.13): the most data in one Data-In sequence or
	// solicited Data-Out burst (512..16777215). Default 1048576: one burst
	// per command up to the usual 1 MiB I/O (open-iscsi proposes 16776192).
	MaxBurstLength int
	// FirstBurstLength (§13.14): the most unsolicited data (immediate plus
	// unsolicited Data-Out) a write may send before an R2T
	// (512..MaxBurstLength). Default 262144, as open-iscsi.
	FirstBurstLength int
	// MaxOutstandingR2T (§13.17): R2Ts the target may have in flight per
	// task (1..65535). Default 8 (open-iscsi proposes 1): lets a target
	// pipeline the R2Ts of a large write.
	MaxOutstandingR2T int
	// MaxConnections (§13.2) per session (1..65535). Default 1; MC/S is
	// not implemented.
	MaxConnections int

	// InitialR2T (§13.10): Yes forbids unsolicited Data-Out. Default No,
	// so that writes may start with unsolicited data; the result is Yes if
	// the target wants it (function OR).
	InitialR2T Choice
	// ImmediateData (§13.11): data in the SCSI Command PDU itself.
	// Default Yes; the result is No if the target says so (function AND).
	ImmediateData Choice
	// DataPDUInOrder (§13.18) and DataSequenceInOrder (§13.19): default
	// Yes, which forces a Yes result (function OR). The session layer
	// must handle out-of-order data before anyone sets No.
	DataPDUInOrder, DataSequenceInOrder Choice

	// ErrorRecoveryLevel (§13.20, 0..2). Default 0.
	ErrorRecoveryLevel int
	// DefaultTime2Wait (§13.15): seconds to wait before a logout or
	// reconnection after a connection loss (0..3600). The zero value
	// means 2, as open-iscsi; a negative value proposes 0.
	DefaultTime2Wait int
	// DefaultTime2Retain (§13.16): seconds the target keeps tasks after
	// a connection loss (0..3600). Default 0, as open-iscsi: at
	// ErrorRecoveryLevel 0 there is no connection recovery to keep them for.
	DefaultTime2Retain int

	// TaskReporting (§13.23) values we support, in order of preference
	// ("RFC3720", "ResponseFence", "FastAbort"). Nil: not proposed, and a
	// target's offer is answered with RFC3720 only.
	TaskReporting []string
	// ProtocolLevel, if above 0, is proposed as iSCSIProtocolLevel
	// (§13.24, 1..31). A target's offer is answered with the minimum of
	// its value and ours (1 when ProtocolLevel is 0).
	ProtocolLevel int
}

// Validate reports values outside their key's range, unknown list values,
// and FirstBurstLength above MaxBurstLength. Zero values are never errors.
func (n Negotiation) Validate() error { return n.config().Validate() }

// config converts n to the negotiator's type, field by field.
func (n Negotiation) config() negotiate.Config {
	return negotiate.Config{
		HeaderDigest: n.HeaderDigest, DataDigest: n.DataDigest,
		MaxRecvDataSegmentLength: n.MaxRecvDataSegmentLength,
		MaxBurstLength:           n.MaxBurstLength,
		FirstBurstLength:         n.FirstBurstLength,
		MaxOutstandingR2T:        n.MaxOutstandingR2T,
		MaxConnections:           n.MaxConnections,
		InitialR2T:               negotiate.Choice(n.InitialR2T),
		ImmediateData:            negotiate.Choice(n.ImmediateData),
		DataPDUInOrder:           negotiate.Choice(n.DataPDUInOrder),
		DataSequenceInOrder:      negotiate.Choice(n.DataSequenceInOrder),
		ErrorRecoveryLevel:       n.ErrorRecoveryLevel,
		DefaultTime2Wait:         n.DefaultTime2Wait,
		DefaultTime2Retain:       n.DefaultTime2Retain,
		TaskReporting:            n.TaskReporting,
		ProtocolLevel:            n.ProtocolLevel,
	}
}

// Params is the outcome of a login's negotiation: the values the session and
// its connection run with (Session.Params). Each field names the RFC 7143
// §13 key it comes from; the RFC default in parentheses is what a key
// neither side offered takes.
type Params struct {
	HeaderDigest bool // HeaderDigest=CRC32C (§13.1; default None)
	DataDigest   bool // DataDigest=CRC32C (§13.1; default None)

	// MaxRecvDataSegmentLength is ours (§13.12; 8192): the most the target
	// may send us in one PDU. TargetMaxRecvDataSegmentLength is what the
	// target declared, 8192 if it did not: the most we may send it.
	MaxRecvDataSegmentLength       int
	TargetMaxRecvDataSegmentLength int

	MaxConnections      int    // MaxConnections (§13.2; 1)
	InitialR2T          bool   // InitialR2T (§13.10; Yes): no unsolicited Data-Out
	ImmediateData       bool   // ImmediateData (§13.11; Yes): data in the command PDU
	MaxBurstLength      int    // MaxBurstLength (§13.13; 262144): bytes per sequence
	FirstBurstLength    int    // FirstBurstLength (§13.14; 65536); unused when InitialR2T && !ImmediateData
	DefaultTime2Wait    int    // DefaultTime2Wait (§13.15; 2), seconds
	DefaultTime2Retain  int    // DefaultTime2Retain (§13.16; 20), seconds
	MaxOutstandingR2T   int    // MaxOutstandingR2T (§13.17; 1): R2Ts in flight per task
	DataPDUInOrder      bool   // DataPDUInOrder (§13.18; Yes)
	DataSequenceInOrder bool   // DataSequenceInOrder (§13.19; Yes)
	ErrorRecoveryLevel  int    // ErrorRecoveryLevel (§13.20; 0)
	TaskReporting       string // TaskReporting (§13.23; "RFC3720"), or "ResponseFence" or "FastAbort"
	ProtocolLevel       int    // iSCSIProtocolLevel (§13.24; 1); RFC 7144 is level 2

	// Declared by the target.
	TargetAlias            string // TargetAlias (§13.6)
	TargetAddress          string // TargetAddress (§13.8), as sent ("host[:port][,tpgt]")
	TargetPortalGroupTag   int    // TargetPortalGroupTag (§13.9); -1 if the target sent none
	TargetNodeArchitecture string // X#NodeArchitecture (§13.26)
}

// FirstBurstRelevant reports whether FirstBurstLength applies: not when
// InitialR2T=Yes and ImmediateData=No (§13.14), as then no unsolicited data
// is ever sent.
func (p Params) FirstBurstRelevant() bool { return !p.InitialR2T || p.ImmediateData }
