package iscsitest

import (
	"strconv"

	"github.com/gomp-dev/gomp/pdu"
)

// textState is a Text exchange in progress (RFC 7143 §11.10-§11.11):
// either the initiator's text continues (C bit) or the target's does.
type textState struct {
	itt uint32
	ttt uint32 // the TTT the next request must echo; 0: no exchange
	asm pdu.TextAssembler
	out []byte // response text not yet sent
}

// textRequest answers a Text Request in full feature phase.
func (c *Conn) textRequest(p *pdu.TextRequest) error {
	ts := &c.text
	if p.TTT == pdu.ReservedTag || ts.ttt == 0 || p.TTT != ts.ttt || p.ITT != ts.itt {
		if p.TTT != pdu.ReservedTag {
			c.violation("Text Request with unknown TTT 0x%x", p.TTT)
		}
		*ts = textState{itt: p.ITT} // a new exchange resets any old one
	}
	if len(ts.out) > 0 {
		return c.sendTextChunk(p)
	}
	kvs, complete, err := ts.asm.Add(p.Data, p.Continue)
	if err != nil {
		c.violation("malformed text: %v", err)
		*ts = textState{}
		return c.rejectPDU(pdu.RejectProtocolError, p)
	}
	if !complete {
		ts.ttt = c.newTTT()
		return c.sendText(p, &pdu.TextResponse{TTT: ts.ttt})
	}
	ts.out, err = pdu.AppendText(nil, c.textAnswers(kvs)...)
	if err != nil {
		return err
	}
	return c.sendTextChunk(p)
}

// sendTextChunk sends as much of the response text as the initiator
// accepts; if more remains, C is set and a TTT invites the next request.
func (c *Conn) sendTextChunk(p *pdu.TextRequest) error {
	ts := &c.text
	chunk, rest := pdu.NextChunk(ts.out, c.neg.InitiatorMaxRecvDataSegmentLength)
	ts.out = rest
	resp := &pdu.TextResponse{Final: rest == nil, Continue: rest != nil, TTT: pdu.ReservedTag, Data: chunk}
	if rest != nil {
		ts.ttt = c.newTTT()
		resp.TTT = ts.ttt
	} else {
		ts.ttt = 0
	}
	return c.sendText(p, resp)
}

func (c *Conn) sendText(p *pdu.TextRequest, resp *pdu.TextResponse) error {
	resp.LUN, resp.ITT = p.LUN, p.ITT
	resp.StatSN, resp.ExpCmdSN, resp.MaxCmdSN = c.nextStatSN(), c.expCmdSN, c.maxCmdSN()
	return c.send(resp)
}

// textAnswers answers full-feature text keys: SendTargets (RFC 7143
// §13.3, Appendix C); anything else is not understood.
func (c *Conn) textAnswers(kvs []pdu.KeyValue) []pdu.KeyValue {
	var out []pdu.KeyValue
	for _, kv := range kvs {
		if kv.Key != "SendTargets" {
			out = append(out, pdu.KeyValue{Key: kv.Key, Value: pdu.ValueNotUnderstood})
			continue
		}
		out = append(out, c.sendTargets(kv.Value)...)
	}
	return out
}

// sendTargets lists this target: "All" only in a discovery session; a
// name, or nothing for the current target, in either session type.
func (c *Conn) sendTargets(v string) []pdu.KeyValue {
	discovery := c.neg.SessionType == "Discovery"
	switch {
	case v == "All" && !discovery:
		return []pdu.KeyValue{{Key: "SendTargets", Value: pdu.ValueReject}}
	case v == "" && discovery:
		return []pdu.KeyValue{{Key: "SendTargets", Value: pdu.ValueReject}}
	case v != "All" && v != "" && v != c.cfg.Name:
		return nil
	}
	out := []pdu.KeyValue{{Key: "TargetName", Value: c.cfg.Name}}
	tag := strconv.Itoa(int(c.cfg.PortGroup))
	for _, portal := range c.cfg.Portals {
		out = append(out, pdu.KeyValue{Key: "TargetAddress", Value: portal + "," + tag})
	}
	return out
}
