// Package negotiate is the initiator's side of iSCSI login key negotiation
// (RFC 7143 §6.2 text mode negotiation, §13 login/text operational keys):
// it builds our offer, checks the target's answers against each key's
// result function and legal range, answers the target's own offers, and
// produces the Params a session runs with.
//
// Result functions (§13):
//
//	list (first of the proposer's values the acceptor supports):
//	    HeaderDigest, DataDigest, TaskReporting
//	Minimum: MaxConnections, MaxBurstLength, FirstBurstLength,
//	    DefaultTime2Retain, MaxOutstandingR2T, ErrorRecoveryLevel,
//	    iSCSIProtocolLevel
//	Maximum: DefaultTime2Wait
//	AND: ImmediateData      OR: InitialR2T, DataPDUInOrder, DataSequenceInOrder
//	declarative: MaxRecvDataSegmentLength (each side its own), TargetAlias,
//	    TargetAddress, TargetPortalGroupTag, X#NodeArchitecture
//
// Reject, Irrelevant and NotUnderstood answers leave a key at its RFC
// default (§6.2) and are listed by Fallbacks. In a Discovery session the
// keys §13 marks "Irrelevant when: SessionType=Discovery" are answered
// Irrelevant; DefaultTime2Wait, DefaultTime2Retain and ErrorRecoveryLevel
// have no such clause and are negotiated if the target offers them. The
// obsolete marker keys (§13.25) get No (IFMarker, OFMarker) and Reject
// (IFMarkInt, OFMarkInt).
//
// The package does no I/O: the login state machine feeds it the assembled
// text of each Login Response (pdu.TextAssembler) and sends its replies.
// Security-stage keys (AuthMethod, CHAP_*) are the login layer's; see
// IsSecurityKey and package chap.
//
// Interoperability notes, from tgtd (fujita/tgt usr/iscsi): tgtd answers
// every key we offer except MaxRecvDataSegmentLength, which it records as its
// transmit limit; it offers its own MaxRecvDataSegmentLength only when it is
// configured away from the 8192 default, so by default we may send it at most
// 8192 bytes per PDU; with its defaults it turns InitialR2T=No into Yes (OR
// with its Yes), MaxBurstLength into 262144, FirstBurstLength into 65536 and
// MaxOutstandingR2T into 1. It sends TargetPortalGroupTag in its first
// response.
//
// Not implemented: negotiation in full feature phase (Text requests
// renegotiating MaxRecvDataSegmentLength), keys of non-leading connections
// (MC/S), RDMA extension keys (RFC 7145: answered NotUnderstood), SendTargets
// responses (their repeated TargetName/TargetAddress keys belong to the
// discovery code), and vendor X- keys (answered NotUnderstood).
package negotiate
