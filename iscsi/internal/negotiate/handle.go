package negotiate

import (
	"slices"
	"strconv"

	"github.com/gomp-dev/gomp/pdu"
)

// Handle takes the keys of one target response (a whole Login Response
// text, continued PDUs joined) and returns the keys to send back, in the
// order the target sent the offers they answer:
//
//   - answers to our offers are checked against the key's result function
//     and range and recorded; Reject, Irrelevant and NotUnderstood leave the
//     RFC 7143 default (see Fallbacks), except that a digest may not fall
//     back to None unless we offered None;
//   - the target's own offers are answered with the result of the same
//     function over our value and theirs, Reject for a value outside the
//     key's range or a list we share nothing with, and Irrelevant for keys
//     irrelevant to a Discovery session or FirstBurstLength when InitialR2T
//     is Yes and ImmediateData No;
//   - declarations (TargetAlias, TargetAddress, TargetPortalGroupTag, the
//     target's MaxRecvDataSegmentLength, X#NodeArchitecture) are recorded
//     and not answered;
//   - IFMarker and OFMarker are answered No, IFMarkInt and OFMarkInt
//     Reject (RFC 7143 §13.25); unknown keys, X- and X# keys included, are
//     answered NotUnderstood, unless they carry a reserved value, which
//     can only be a stray answer and is ignored.
//
// Any breach of RFC 7143 is an *Error (errors.Is ErrNegotiation): a key
// twice in one response, a key answered or offered again after it was
// settled, an answer outside what we offered or outside the key's range,
// an offer of Reject, Irrelevant or NotUnderstood, a security key (see
// IsSecurityKey), a key only the initiator sends, or a FirstBurstLength
// that ends up above MaxBurstLength (we do not clamp it: the target would
// still expect that much unsolicited data). The login must then fail;
// Result keeps only values that were valid.
func (n *Negotiator) Handle(kvs []pdu.KeyValue) (reply []pdu.KeyValue, err error) {
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		if seen[kv.Key] {
			return nil, fail(kv.Key, kv.Value, "key sent twice in one response")
		}
		seen[kv.Key] = true
	}
	for _, kv := range kvs {
		r, ok, err := n.handleKey(kv)
		if err != nil {
			return nil, err
		}
		if ok {
			reply = append(reply, r)
		}
	}
	return reply, n.checkBursts()
}

// handleKey dispatches one key; ok reports whether it needs an answer.
func (n *Negotiator) handleKey(kv pdu.KeyValue) (reply pdu.KeyValue, ok bool, err error) {
	d := keyIndex[kv.Key]
	switch {
	case IsSecurityKey(kv.Key):
		return reply, false, fail(kv.Key, kv.Value, "security key in operational negotiation")
	case d == nil:
		return n.handleOther(kv)
	case d.fn == fnInitiator:
		return reply, false, fail(kv.Key, kv.Value, "only the initiator sends this key")
	case d.fn == fnDeclare:
		return reply, false, n.declare(d, kv.Value)
	}
	switch n.state[d.name] {
	case offered, optional:
		return reply, false, n.answer(d, kv.Value)
	case settled:
		return reply, false, fail(kv.Key, kv.Value, "key already negotiated in this login")
	}
	if isReserved(kv.Value) {
		return reply, false, fail(kv.Key, kv.Value, "reserved value offered")
	}
	n.state[d.name] = settled
	v, err := n.respond(d, kv.Value)
	return pdu.KeyValue{Key: kv.Key, Value: v}, err == nil, err
}

// handleOther answers keys outside RFC 7143 §13's current set.
func (n *Negotiator) handleOther(kv pdu.KeyValue) (pdu.KeyValue, bool, error) {
	if isReserved(kv.Value) {
		return pdu.KeyValue{}, false, nil
	}
	if v, ok := obsolete[kv.Key]; ok {
		return pdu.KeyValue{Key: kv.Key, Value: v}, true, nil
	}
	return pdu.KeyValue{Key: kv.Key, Value: pdu.ValueNotUnderstood}, true, nil
}

// declare records a declaration of the target.
func (n *Negotiator) declare(d *keyDef, v string) error {
	if isReserved(v) {
		n.special = append(n.special, pdu.KeyValue{Key: d.name, Value: v})
		return nil
	}
	if d.num == nil {
		return d.set(&n.res, v)
	}
	x, err := parseNum(d, v)
	if err != nil {
		return err
	}
	*d.num(&n.res) = x
	return nil
}

// answer checks and records the target's answer to our offer of d.
func (n *Negotiator) answer(d *keyDef, v string) error {
	n.state[d.name] = settled
	if isReserved(v) {
		return n.fallBack(d, v)
	}
	switch d.fn {
	case fnList:
		if !slices.Contains(n.lists[d.name], v) {
			return fail(d.name, v, "answer is not one of the values we offered (%s)", joinList(n.lists[d.name]))
		}
		return d.set(&n.res, v)
	case fnMin, fnMax:
		return n.answerNum(d, v)
	}
	return n.answerBool(d, v)
}

func (n *Negotiator) answerNum(d *keyDef, v string) error {
	x, err := parseNum(d, v)
	if err != nil {
		return err
	}
	ours := *d.num(&n.ours)
	if d.fn == fnMin && x > ours {
		return fail(d.name, v, "above our offer of %d (result function Minimum)", ours)
	}
	if d.fn == fnMax && x < ours {
		return fail(d.name, v, "below our offer of %d (result function Maximum)", ours)
	}
	*d.num(&n.res) = x
	return nil
}

func (n *Negotiator) answerBool(d *keyDef, v string) error {
	b, err := pdu.ParseBool(v)
	if err != nil {
		return fail(d.name, v, "not Yes or No")
	}
	ours := *d.flag(&n.ours)
	if d.fn == fnAnd && b && !ours {
		return fail(d.name, v, "we offered No (result function AND)")
	}
	if d.fn == fnOr && !b && ours {
		return fail(d.name, v, "we offered Yes (result function OR)")
	}
	*d.flag(&n.res) = b
	return nil
}

// fallBack applies the default after a Reject, Irrelevant or NotUnderstood
// answer (RFC 7143 §6.2: the key keeps its current, here default, value).
func (n *Negotiator) fallBack(d *keyDef, v string) error {
	n.special = append(n.special, pdu.KeyValue{Key: d.name, Value: v})
	if (d.name == "HeaderDigest" || d.name == "DataDigest") && !slices.Contains(n.lists[d.name], DigestNone) {
		return fail(d.name, v, "we require %s and did not offer None", joinList(n.lists[d.name]))
	}
	def := Defaults()
	switch {
	case d.num != nil:
		*d.num(&n.res) = *d.num(&def)
	case d.flag != nil:
		*d.flag(&n.res) = *d.flag(&def)
	default:
		return d.set(&n.res, n.defaultList(d))
	}
	return nil
}

func (n *Negotiator) defaultList(d *keyDef) string {
	if d.name == "TaskReporting" {
		return "RFC3720"
	}
	return DigestNone
}

// respond computes our answer to the target's offer of d and records the
// result. A value we cannot accept is answered Reject, leaving the default.
func (n *Negotiator) respond(d *keyDef, v string) (string, error) {
	if n.st == Discovery && d.normalOnly {
		return pdu.ValueIrrelevant, nil
	}
	if d.name == "FirstBurstLength" && n.firstBurstIrrelevant() {
		return pdu.ValueIrrelevant, nil
	}
	switch d.fn {
	case fnList:
		return n.respondList(d, v)
	case fnMin, fnMax:
		return n.respondNum(d, v)
	}
	b, err := pdu.ParseBool(v)
	if err != nil {
		return "", fail(d.name, v, "not Yes or No")
	}
	if d.fn == fnAnd {
		b = b && *d.flag(&n.ours)
	} else {
		b = b || *d.flag(&n.ours)
	}
	*d.flag(&n.res) = b
	return pdu.FormatBool(b), nil
}

// respondList picks the first of the target's values that we accept
// (RFC 7143 §6.2.1).
func (n *Negotiator) respondList(d *keyDef, v string) (string, error) {
	for _, c := range pdu.SplitList(v) {
		if slices.Contains(n.lists[d.name], c) {
			return c, d.set(&n.res, c)
		}
	}
	return pdu.ValueReject, nil
}

func (n *Negotiator) respondNum(d *keyDef, v string) (string, error) {
	u, err := number(d, v)
	if err != nil {
		return "", err
	}
	if !inRange(d, u) {
		return pdu.ValueReject, nil
	}
	x, ours := int(u), *d.num(&n.ours)
	if d.fn == fnMin {
		x = min(x, ours)
	} else {
		x = max(x, ours)
	}
	*d.num(&n.res) = x
	return strconv.Itoa(x), nil
}

// firstBurstIrrelevant reports whether InitialR2T=Yes and ImmediateData=No
// are both settled.
func (n *Negotiator) firstBurstIrrelevant() bool {
	done := func(k string) bool { s := n.state[k]; return s == settled || s == optional }
	return done("InitialR2T") && done("ImmediateData") && !n.res.FirstBurstRelevant()
}

// checkBursts enforces FirstBurstLength <= MaxBurstLength (RFC 7143 §13.14)
// in a Normal session once both are negotiated and InitialR2T and
// ImmediateData are no longer pending.
func (n *Negotiator) checkBursts() error {
	if n.st == Discovery {
		return nil
	}
	for _, k := range []string{"MaxBurstLength", "FirstBurstLength"} {
		if s := n.state[k]; s == unset || s == offered {
			return nil
		}
	}
	if n.state["InitialR2T"] == offered || n.state["ImmediateData"] == offered {
		return nil
	}
	if n.res.FirstBurstRelevant() && n.res.FirstBurstLength > n.res.MaxBurstLength {
		return fail("FirstBurstLength", strconv.Itoa(n.res.FirstBurstLength),
			"exceeds MaxBurstLength %d (RFC 7143 §13.14)", n.res.MaxBurstLength)
	}
	return nil
}

// parseNum parses a numerical value of d and checks its range.
func parseNum(d *keyDef, v string) (int, error) {
	x, err := number(d, v)
	if err != nil {
		return 0, err
	}
	if !inRange(d, x) {
		return 0, fail(d.name, v, "outside the key's range %d..%d", d.lo, d.hi)
	}
	return int(x), nil
}

// number parses a numerical value: decimal, or a hex or base64 constant
// (RFC 7143 §6.1) of up to 64 bits.
func number(d *keyDef, v string) (uint64, error) {
	x, err := pdu.ParseNumber(v)
	if err != nil {
		return 0, fail(d.name, v, "not a number")
	}
	return x, nil
}

func inRange(d *keyDef, x uint64) bool { return x >= uint64(d.lo) && x <= uint64(d.hi) }
