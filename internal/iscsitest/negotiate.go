package iscsitest

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/pdu"
)

// keyRule answers one operational key (RFC 7143 §13). answer returns the
// response value and whether the key gets one (declarations do not).
type keyRule struct {
	normalOnly bool // Irrelevant in a discovery session
	answer     func(c *Conn, p *Params, v string) (string, bool)
}

// keyRules is indexed by key name. Keys not in it are NotUnderstood.
var keyRules = map[string]keyRule{
	"HeaderDigest":             {answer: digestRule(func(p *Params) *bool { return &p.HeaderDigest })},
	"DataDigest":               {answer: digestRule(func(p *Params) *bool { return &p.DataDigest })},
	"MaxConnections":           {normalOnly: true, answer: minRule(1, 65535, func(c *Conn) int { return 1 }, func(p *Params) *int { return &p.MaxConnections })},
	"InitialR2T":               {normalOnly: true, answer: boolRule(true, func(c *Conn) bool { return c.cfg.ForceInitialR2T }, func(p *Params) *bool { return &p.InitialR2T })},
	"ImmediateData":            {normalOnly: true, answer: boolRule(false, func(c *Conn) bool { return !c.cfg.NoImmediateData }, func(p *Params) *bool { return &p.ImmediateData })},
	"DataPDUInOrder":           {normalOnly: true, answer: boolRule(true, func(*Conn) bool { return true }, func(p *Params) *bool { return &p.DataPDUInOrder })},
	"DataSequenceInOrder":      {normalOnly: true, answer: boolRule(true, func(*Conn) bool { return true }, func(p *Params) *bool { return &p.DataSequenceInOrder })},
	"MaxRecvDataSegmentLength": {answer: mrdslRule},
	"MaxBurstLength":           {normalOnly: true, answer: minRule(512, pdu.MaxDataSegmentLength, func(c *Conn) int { return c.cfg.MaxBurstLength }, func(p *Params) *int { return &p.MaxBurstLength })},
	"FirstBurstLength":         {normalOnly: true, answer: minRule(512, pdu.MaxDataSegmentLength, func(c *Conn) int { return c.cfg.FirstBurstLength }, func(p *Params) *int { return &p.FirstBurstLength })},
	"MaxOutstandingR2T":        {normalOnly: true, answer: minRule(1, 65535, func(c *Conn) int { return c.cfg.MaxOutstandingR2T }, func(p *Params) *int { return &p.MaxOutstandingR2T })},
	"ErrorRecoveryLevel":       {answer: minRule(0, 2, func(*Conn) int { return 0 }, func(p *Params) *int { return &p.ErrorRecoveryLevel })},
	"DefaultTime2Wait":         {answer: maxRule(0, 3600, 2, func(p *Params) *int { return &p.DefaultTime2Wait })},
	"DefaultTime2Retain":       {answer: minRule(0, 3600, func(*Conn) int { return 20 }, func(p *Params) *int { return &p.DefaultTime2Retain })},
	"iSCSIProtocolLevel":       {answer: minRule(0, 31, func(*Conn) int { return 1 }, func(*Params) *int { return new(int) })},
	"TaskReporting":            {answer: fixed("RFC3720", true)},
	"IFMarker":                 {answer: fixed("No", false)},
	"OFMarker":                 {answer: fixed("No", false)},
	"IFMarkInt":                {answer: fixed(pdu.ValueIrrelevant, false)},
	"OFMarkInt":                {answer: fixed(pdu.ValueIrrelevant, false)},
	"InitiatorName":            {answer: declared},
	"InitiatorAlias":           {answer: declared},
	"TargetName":               {answer: declared},
	"SessionType":              {answer: declared},
	"TargetAlias":              {answer: fixed(pdu.ValueReject, false)},
	"TargetAddress":            {answer: fixed(pdu.ValueReject, false)},
	"TargetPortalGroupTag":     {answer: fixed(pdu.ValueReject, false)},
	"SendTargets":              {answer: fixed(pdu.ValueReject, false)},
	"AuthMethod":               {answer: fixed(pdu.ValueReject, false)},
}

// negotiate answers one login key and records the result in p.
func (c *Conn) negotiate(p *Params, kv pdu.KeyValue) (string, bool) {
	rule, ok := keyRules[kv.Key]
	switch {
	case !ok:
		return pdu.ValueNotUnderstood, true
	case rule.normalOnly && p.SessionType == "Discovery":
		return pdu.ValueIrrelevant, true
	}
	return rule.answer(c, p, kv.Value)
}

func declared(*Conn, *Params, string) (string, bool) { return "", false }

// fixed answers a constant; a list offer must include it when inList.
func fixed(v string, inList bool) func(*Conn, *Params, string) (string, bool) {
	return func(_ *Conn, _ *Params, offer string) (string, bool) {
		if inList && !slices.Contains(pdu.SplitList(offer), v) {
			return pdu.ValueReject, true
		}
		return v, true
	}
}

// digestRule picks the initiator's first digest the target accepts.
func digestRule(field func(*Params) *bool) func(*Conn, *Params, string) (string, bool) {
	return func(c *Conn, p *Params, offer string) (string, bool) {
		for _, d := range pdu.SplitList(offer) {
			for _, ok := range c.cfg.Digests {
				if strings.EqualFold(d, ok) {
					*field(p) = strings.EqualFold(d, "CRC32C")
					return ok, true
				}
			}
		}
		return pdu.ValueReject, true
	}
}

// boolRule is the OR (or) or AND (!or) result function of §6.2.2.
func boolRule(or bool, ours func(*Conn) bool, field func(*Params) *bool) func(*Conn, *Params, string) (string, bool) {
	return func(c *Conn, p *Params, offer string) (string, bool) {
		b, err := pdu.ParseBool(offer)
		if err != nil {
			return pdu.ValueReject, true
		}
		if or {
			b = b || ours(c)
		} else {
			b = b && ours(c)
		}
		*field(p) = b
		return pdu.FormatBool(b), true
	}
}

// minRule is the Minimum result function for a numeric range.
func minRule(lo, hi int, ours func(*Conn) int, field func(*Params) *int) func(*Conn, *Params, string) (string, bool) {
	return func(c *Conn, p *Params, offer string) (string, bool) {
		n, ok := numberIn(offer, lo, hi)
		if !ok {
			return pdu.ValueReject, true
		}
		*field(p) = min(n, ours(c))
		return strconv.Itoa(*field(p)), true
	}
}

// maxRule is the Maximum result function for a numeric range.
func maxRule(lo, hi, ours int, field func(*Params) *int) func(*Conn, *Params, string) (string, bool) {
	return func(c *Conn, p *Params, offer string) (string, bool) {
		n, ok := numberIn(offer, lo, hi)
		if !ok {
			return pdu.ValueReject, true
		}
		*field(p) = max(n, ours)
		return strconv.Itoa(*field(p)), true
	}
}

// mrdslRule records the initiator's declared MaxRecvDataSegmentLength.
func mrdslRule(c *Conn, p *Params, v string) (string, bool) {
	n, ok := numberIn(v, 512, pdu.MaxDataSegmentLength)
	if !ok {
		return pdu.ValueReject, true
	}
	p.InitiatorMaxRecvDataSegmentLength = n
	return "", false
}

func numberIn(v string, lo, hi int) (int, bool) {
	n, err := pdu.ParseNumber(v)
	if err != nil || n < uint64(lo) || n > uint64(hi) {
		return 0, false
	}
	return int(n), true
}
