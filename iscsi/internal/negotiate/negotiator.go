package negotiate

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/pdu"
)

// keyState tracks one negotiated key.
type keyState uint8

const (
	unset    keyState = iota
	offered           // we proposed it; the target must answer
	optional          // we proposed it; an answer is optional and the result already applies
	settled           // answered, or the target's offer answered by us
)

// Negotiator runs the initiator's side of the operational (and leading)
// key negotiation of one login (RFC 7143 §6, §13). Call Offer for our
// proposals, pass every key the target sends to Handle, and send back what
// Handle returns; when Pending is empty and the target transits to full
// feature phase, Result holds the session's values.
//
// A Negotiator is for one login and is not safe for concurrent use.
type Negotiator struct {
	st      SessionType
	cfg     Config              // normalized
	ours    Params              // our proposals, and the values we answer with
	lists   map[string][]string // our list proposals, and what we accept
	res     Params              // the outcome so far
	state   map[string]keyState
	order   []string       // keys in the order we offered them
	special []pdu.KeyValue // keys the target answered with Reject, Irrelevant or NotUnderstood
}

// New returns a Negotiator proposing cfg (normalized: defaults filled in,
// values clamped into range) for a session of type st.
func New(cfg Config, st SessionType) *Negotiator {
	cfg = cfg.normalize()
	ours := Defaults()
	ours.MaxRecvDataSegmentLength = cfg.MaxRecvDataSegmentLength
	ours.MaxBurstLength = cfg.MaxBurstLength
	ours.FirstBurstLength = cfg.FirstBurstLength
	ours.MaxOutstandingR2T = cfg.MaxOutstandingR2T
	ours.MaxConnections = cfg.MaxConnections
	ours.InitialR2T = cfg.InitialR2T.or(false)
	ours.ImmediateData = cfg.ImmediateData.or(true)
	ours.DataPDUInOrder = cfg.DataPDUInOrder.or(true)
	ours.DataSequenceInOrder = cfg.DataSequenceInOrder.or(true)
	ours.ErrorRecoveryLevel = cfg.ErrorRecoveryLevel
	ours.DefaultTime2Wait = cfg.DefaultTime2Wait
	ours.DefaultTime2Retain = cfg.DefaultTime2Retain
	ours.ProtocolLevel = max(cfg.ProtocolLevel, 1)
	lists := map[string][]string{
		"HeaderDigest":  cfg.HeaderDigest,
		"DataDigest":    cfg.DataDigest,
		"TaskReporting": cfg.TaskReporting,
	}
	if lists["TaskReporting"] == nil {
		lists["TaskReporting"] = []string{"RFC3720"}
	}
	return &Negotiator{
		st: st, cfg: cfg, ours: ours, lists: lists,
		res: Defaults(), state: make(map[string]keyState),
	}
}

// Offer returns our proposals for the keys not yet offered or negotiated,
// in RFC 7143 §13 order, and marks them pending. The first call returns the
// whole offer; later calls return nothing new. A Discovery session proposes
// only HeaderDigest, DataDigest and MaxRecvDataSegmentLength.
//
// Keys whose answer RFC 7143 §6.2.2 makes optional (an OR key offered Yes,
// an AND key offered No) take effect at once and are not pending; our
// MaxRecvDataSegmentLength is a declaration and is never pending.
func (n *Negotiator) Offer() []pdu.KeyValue {
	var kvs []pdu.KeyValue
	for _, d := range negotiated {
		if n.state[d.name] != unset || !n.proposes(d) {
			continue
		}
		kvs = append(kvs, pdu.KeyValue{Key: d.name, Value: n.proposal(d)})
		n.order = append(n.order, d.name)
		switch {
		case d.fn == fnDeclare:
			*d.num(&n.res) = *d.num(&n.ours)
			n.state[d.name] = settled
		case d.fn == fnAnd && !*d.flag(&n.ours), d.fn == fnOr && *d.flag(&n.ours):
			*d.flag(&n.res) = *d.flag(&n.ours)
			n.state[d.name] = optional
		default:
			n.state[d.name] = offered
		}
	}
	return kvs
}

// proposes reports whether Offer includes d.
func (n *Negotiator) proposes(d *keyDef) bool {
	if n.st == Discovery {
		return slices.Contains(discoveryOffer, d.name)
	}
	switch d.name {
	case "TaskReporting":
		return n.cfg.TaskReporting != nil
	case "iSCSIProtocolLevel":
		return n.cfg.ProtocolLevel > 0
	}
	return true
}

// proposal formats our value of d.
func (n *Negotiator) proposal(d *keyDef) string {
	switch {
	case d.fn == fnList:
		return joinList(n.lists[d.name])
	case d.flag != nil:
		return pdu.FormatBool(*d.flag(&n.ours))
	}
	return strconv.Itoa(*d.num(&n.ours))
}

func joinList(vs []string) string { return strings.Join(vs, ",") }

// Pending returns the keys we offered that still await the target's
// answer, in offer order. Until they are answered their results are the
// RFC 7143 defaults.
func (n *Negotiator) Pending() []string {
	var keys []string
	for _, k := range n.order {
		if n.state[k] == offered {
			keys = append(keys, k)
		}
	}
	return keys
}

// Result returns the outcome so far: negotiated values, our declaration,
// the target's declarations, and RFC 7143 defaults for everything else.
func (n *Negotiator) Result() Params { return n.res }

// Fallbacks returns the keys the target answered with Reject, Irrelevant
// or NotUnderstood, with that answer; their results are the defaults.
func (n *Negotiator) Fallbacks() []pdu.KeyValue { return slices.Clone(n.special) }
