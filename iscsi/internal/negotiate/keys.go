package negotiate

import "strings"

// function is a key's result function (RFC 7143 §6.2, §13).
type function uint8

const (
	fnList      function = iota + 1 // first value of the offer the acceptor supports
	fnMin                           // numerical Minimum
	fnMax                           // numerical Maximum
	fnAnd                           // Boolean AND
	fnOr                            // Boolean OR
	fnDeclare                       // declarative: no answer
	fnInitiator                     // only the initiator may send it (§13.3–13.7, §13.21)
)

// keyDef describes one key of RFC 7143 §13 as the initiator sees it.
type keyDef struct {
	name       string
	fn         function
	lo, hi     int  // numerical range
	normalOnly bool // "Irrelevant when: SessionType=Discovery"
	// Where the value lives in Params: num for numbers, flag for Booleans,
	// set for lists and declarations (set validates declarations).
	num  func(*Params) *int
	flag func(*Params) *bool
	set  func(*Params, string) error
}

// negotiated lists the keys we may propose, in RFC 7143 §13 order, which is
// also the order of Offer.
var negotiated = []*keyDef{
	{name: "HeaderDigest", fn: fnList, set: func(p *Params, v string) error { p.HeaderDigest = v == DigestCRC32C; return nil }},
	{name: "DataDigest", fn: fnList, set: func(p *Params, v string) error { p.DataDigest = v == DigestCRC32C; return nil }},
	{name: "MaxConnections", fn: fnMin, lo: 1, hi: maxCount, normalOnly: true, num: func(p *Params) *int { return &p.MaxConnections }},
	{name: "InitialR2T", fn: fnOr, normalOnly: true, flag: func(p *Params) *bool { return &p.InitialR2T }},
	{name: "ImmediateData", fn: fnAnd, normalOnly: true, flag: func(p *Params) *bool { return &p.ImmediateData }},
	{name: "MaxRecvDataSegmentLength", fn: fnDeclare, lo: minSegment, hi: maxSegment, num: func(p *Params) *int { return &p.MaxRecvDataSegmentLength }},
	{name: "MaxBurstLength", fn: fnMin, lo: minSegment, hi: maxSegment, normalOnly: true, num: func(p *Params) *int { return &p.MaxBurstLength }},
	{name: "FirstBurstLength", fn: fnMin, lo: minSegment, hi: maxSegment, normalOnly: true, num: func(p *Params) *int { return &p.FirstBurstLength }},
	{name: "DefaultTime2Wait", fn: fnMax, lo: 0, hi: maxTime, num: func(p *Params) *int { return &p.DefaultTime2Wait }},
	{name: "DefaultTime2Retain", fn: fnMin, lo: 0, hi: maxTime, num: func(p *Params) *int { return &p.DefaultTime2Retain }},
	{name: "MaxOutstandingR2T", fn: fnMin, lo: 1, hi: maxCount, normalOnly: true, num: func(p *Params) *int { return &p.MaxOutstandingR2T }},
	{name: "DataPDUInOrder", fn: fnOr, normalOnly: true, flag: func(p *Params) *bool { return &p.DataPDUInOrder }},
	{name: "DataSequenceInOrder", fn: fnOr, normalOnly: true, flag: func(p *Params) *bool { return &p.DataSequenceInOrder }},
	{name: "ErrorRecoveryLevel", fn: fnMin, lo: 0, hi: maxERL, num: func(p *Params) *int { return &p.ErrorRecoveryLevel }},
	{name: "TaskReporting", fn: fnList, normalOnly: true, set: func(p *Params, v string) error { p.TaskReporting = v; return nil }},
	{name: "iSCSIProtocolLevel", fn: fnMin, lo: 0, hi: maxLevel, normalOnly: true, num: func(p *Params) *int { return &p.ProtocolLevel }},
}

// targetKeys are the keys only the target declares, and the keys only the
// initiator may send (an error when they come from the target). The
// target's MaxRecvDataSegmentLength is handled apart from ours.
var targetKeys = []*keyDef{
	{name: "TargetAlias", fn: fnDeclare, set: func(p *Params, v string) error { p.TargetAlias = v; return nil }},
	{name: "TargetAddress", fn: fnDeclare, set: func(p *Params, v string) error { p.TargetAddress = v; return nil }},
	{name: "TargetPortalGroupTag", fn: fnDeclare, lo: 0, hi: maxCount, num: func(p *Params) *int { return &p.TargetPortalGroupTag }},
	{name: "X#NodeArchitecture", fn: fnDeclare, set: func(p *Params, v string) error { p.TargetNodeArchitecture = v; return nil }},
	{name: "InitiatorName", fn: fnInitiator},
	{name: "InitiatorAlias", fn: fnInitiator},
	{name: "SessionType", fn: fnInitiator},
	{name: "TargetName", fn: fnInitiator},
	{name: "SendTargets", fn: fnInitiator},
}

// targetMRDSL is the target's declaration of MaxRecvDataSegmentLength.
var targetMRDSL = &keyDef{
	name: "MaxRecvDataSegmentLength", fn: fnDeclare, lo: minSegment, hi: maxSegment,
	num: func(p *Params) *int { return &p.TargetMaxRecvDataSegmentLength },
}

// keyIndex finds a key's definition by its exact (case-sensitive) name.
var keyIndex = func() map[string]*keyDef {
	m := make(map[string]*keyDef, len(negotiated)+len(targetKeys))
	for _, d := range negotiated {
		m[d.name] = d
	}
	for _, d := range targetKeys {
		m[d.name] = d
	}
	m[targetMRDSL.name] = targetMRDSL
	return m
}()

// discoveryOffer lists the keys Offer proposes in a Discovery session.
var discoveryOffer = []string{"HeaderDigest", "DataDigest", "MaxRecvDataSegmentLength"}

// Obsolete marker keys (RFC 7143 §13.25): IFMarker and OFMarker are answered
// No (allowed; Reject is preferred, but No is what an RFC 3720 target
// expects from an initiator without markers), IFMarkInt and OFMarkInt
// Reject, as required.
var obsolete = map[string]string{
	"IFMarker":  "No",
	"OFMarker":  "No",
	"IFMarkInt": "Reject",
	"OFMarkInt": "Reject",
}

// IsSecurityKey reports whether key belongs to the security negotiation
// stage (AuthMethod and the CHAP, SRP, Kerberos and SPKM keys of RFC 7143
// §12). The login layer handles these itself; Handle refuses them.
func IsSecurityKey(key string) bool {
	if key == "AuthMethod" || key == "TargetAuth" {
		return true
	}
	for _, p := range []string{"CHAP_", "SRP_", "KRB_", "SPKM_"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// isReserved reports the special values that may answer but never offer
// (RFC 7143 §6.2).
func isReserved(v string) bool {
	return v == "Reject" || v == "Irrelevant" || v == "NotUnderstood"
}
