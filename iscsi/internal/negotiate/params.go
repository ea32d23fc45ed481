package negotiate

import "strconv"

// SessionType is the SessionType key of the leading login (RFC 7143 §13.21).
type SessionType int

// Session types.
const (
	Normal SessionType = iota
	Discovery
)

// String returns "Normal" or "Discovery", the SessionType key's values, or
// "SessionType(N)" for an unknown value.
func (t SessionType) String() string {
	switch t {
	case Normal:
		return "Normal"
	case Discovery:
		return "Discovery"
	}
	return "SessionType(" + strconv.Itoa(int(t)) + ")"
}

// Params is the outcome of a negotiation: the values the session and the
// connection run with. Each field names the RFC 7143 §13 key it comes from.
type Params struct {
	HeaderDigest bool // HeaderDigest=CRC32C (§13.1)
	DataDigest   bool // DataDigest=CRC32C (§13.1)

	// MaxRecvDataSegmentLength is ours (§13.12): the most the target may
	// send us in one PDU. TargetMaxRecvDataSegmentLength is what the
	// target declared, 8192 if it did not: the most we may send it.
	MaxRecvDataSegmentLength       int
	TargetMaxRecvDataSegmentLength int

	MaxConnections      int    // §13.2
	InitialR2T          bool   // §13.10
	ImmediateData       bool   // §13.11
	MaxBurstLength      int    // §13.13
	FirstBurstLength    int    // §13.14; unused when InitialR2T && !ImmediateData
	DefaultTime2Wait    int    // §13.15, seconds
	DefaultTime2Retain  int    // §13.16, seconds
	MaxOutstandingR2T   int    // §13.17
	DataPDUInOrder      bool   // §13.18
	DataSequenceInOrder bool   // §13.19
	ErrorRecoveryLevel  int    // §13.20
	TaskReporting       string // §13.23: "RFC3720", "ResponseFence" or "FastAbort"
	ProtocolLevel       int    // iSCSIProtocolLevel, §13.24 (RFC 7144 is level 2)

	// Declared by the target.
	TargetAlias            string // §13.6
	TargetAddress          string // §13.8, as sent ("host[:port][,tpgt]")
	TargetPortalGroupTag   int    // §13.9; -1 if the target sent none
	TargetNodeArchitecture string // X#NodeArchitecture, §13.26
}

// Defaults returns the values RFC 7143 §13 assigns to keys that are never
// negotiated.
func Defaults() Params {
	return Params{
		MaxRecvDataSegmentLength:       8192,
		TargetMaxRecvDataSegmentLength: 8192,
		MaxConnections:                 1,
		InitialR2T:                     true,
		ImmediateData:                  true,
		MaxBurstLength:                 262144,
		FirstBurstLength:               65536,
		DefaultTime2Wait:               2,
		DefaultTime2Retain:             20,
		MaxOutstandingR2T:              1,
		DataPDUInOrder:                 true,
		DataSequenceInOrder:            true,
		ErrorRecoveryLevel:             0,
		TaskReporting:                  "RFC3720",
		ProtocolLevel:                  1,
		TargetPortalGroupTag:           -1,
	}
}

// FirstBurstRelevant reports whether FirstBurstLength applies: not when
// InitialR2T=Yes and ImmediateData=No (§13.14), as then no unsolicited data
// is ever sent.
func (p Params) FirstBurstRelevant() bool { return !p.InitialR2T || p.ImmediateData }
