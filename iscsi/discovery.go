package iscsi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/pdu"
)

// TargetPortal is one address of a target with its portal group tag.
type TargetPortal struct {
	Addr string // host:port
	TPGT int    // target portal group tag; -1 when the target gave none
}

// DiscoveredTarget is one target of a SendTargets answer.
type DiscoveredTarget struct {
	Name    string
	Portals []TargetPortal
}

// Discover runs a discovery session (RFC 7143 §4.3, Appendix C) at
// cfg.Portal: login with SessionType=Discovery, SendTargets=All, logout.
// cfg.TargetName is ignored. Targets that list no TargetAddress are
// reachable at the discovery portal, which is filled in.
func Discover(ctx context.Context, cfg Config) ([]DiscoveredTarget, error) {
	cfg = cfg.withDefaults()
	cfg.TargetName = ""
	t, res, err := loginTo(ctx, cfg, 0, true)
	if err != nil {
		return nil, err
	}
	defer t.conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = t.conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = t.conn.SetDeadline(pastTime) })
	defer stop()
	p := res.params
	t.fr.SetDigests(p.HeaderDigest, p.DataDigest)
	t.fr.SetMaxRecvDataSegmentLength(p.MaxRecvDataSegmentLength)
	t.fr.SetMaxSendDataSegmentLength(p.TargetMaxRecvDataSegmentLength)
	d := &discovery{cfg: cfg, t: t, cmdSN: res.expCmdSN, expStatSN: res.expStatSN}
	kvs, err := d.sendTargets()
	if err != nil {
		return nil, err
	}
	d.logout()
	return parseSendTargets(kvs, cfg.Portal)
}

type discovery struct {
	cfg       Config
	t         *transport
	cmdSN     uint32
	expStatSN uint32
	asm       pdu.TextAssembler
}

func (d *discovery) connErr(err error) error {
	return &ConnError{Portal: d.cfg.Portal, Err: fmt.Errorf("discovery: %w", wireError(err))}
}

// sendTargets runs the Text exchange, following continued answers
// (C bit, and F=0 with a TTT asking for more, RFC 7143 §11.10-11).
func (d *discovery) sendTargets() ([]pdu.KeyValue, error) {
	const itt = 1
	data, _ := pdu.AppendText(nil, pdu.KeyValue{Key: "SendTargets", Value: "All"})
	ttt := uint32(pdu.ReservedTag)
	for round := 1; ; round++ {
		if round > maxTextPDUs {
			return nil, d.connErr(protocolError("SendTargets answer continued over %d PDUs", maxTextPDUs))
		}
		req := &pdu.TextRequest{Final: true, ITT: itt, TTT: ttt, CmdSN: d.cmdSN, ExpStatSN: d.expStatSN, Data: data}
		d.cmdSN++
		if err := d.t.fr.WritePDU(req); err != nil {
			return nil, d.connErr(err)
		}
		p, err := d.t.fr.ReadPDU()
		if err != nil {
			return nil, d.connErr(err)
		}
		resp, ok := p.(*pdu.TextResponse)
		if !ok {
			if rj, isReject := p.(*pdu.Reject); isReject {
				return nil, &RejectError{Reason: rj.Reason, Op: pdu.OpTextReq}
			}
			return nil, d.connErr(protocolError("%v in answer to SendTargets", p.Opcode()))
		}
		if resp.ITT != itt {
			return nil, d.connErr(protocolError("Text Response ITT 0x%x, sent 0x%x", resp.ITT, itt))
		}
		d.expStatSN = resp.StatSN + 1
		kvs, done, err := d.asm.Add(resp.Data, resp.Continue)
		if err != nil {
			return nil, d.connErr(err)
		}
		if done && resp.Final {
			return kvs, nil
		}
		if done && !resp.Final {
			return nil, d.connErr(protocolError("SendTargets answer split without the C bit"))
		}
		data, ttt = nil, resp.TTT
	}
}

// logout ends the discovery session politely; errors do not matter, the
// connection is closed anyway.
func (d *discovery) logout() {
	_ = d.t.fr.WritePDU(&pdu.LogoutRequest{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: 2,
		CmdSN: d.cmdSN, ExpStatSN: d.expStatSN})
	_, _ = d.t.fr.ReadPDU()
}

// parseSendTargets groups TargetName / TargetAddress keys (RFC 7143
// Appendix C): each TargetAddress belongs to the TargetName before it.
func parseSendTargets(kvs []pdu.KeyValue, discoveryPortal string) ([]DiscoveredTarget, error) {
	var out []DiscoveredTarget
	for _, kv := range kvs {
		switch kv.Key {
		case "TargetName":
			out = append(out, DiscoveredTarget{Name: kv.Value})
		case "TargetAddress":
			if len(out) == 0 {
				return nil, errors.New("iscsi: SendTargets: TargetAddress before any TargetName")
			}
			tp, err := parseTargetAddress(kv.Value)
			if err != nil {
				return nil, err
			}
			last := &out[len(out)-1]
			last.Portals = append(last.Portals, tp)
		}
	}
	for i := range out {
		if len(out[i].Portals) == 0 {
			out[i].Portals = []TargetPortal{{Addr: discoveryPortal, TPGT: -1}}
		}
	}
	return out, nil
}

// parseTargetAddress parses "domainname[:port][,portal-group-tag]"
// (RFC 7143 §13.8), IPv6 in brackets. The target chooses the value: an
// empty host, an address with a space, a comma or a control byte, or a
// port that is not 1-65535, is an error.
func parseTargetAddress(v string) (TargetPortal, error) {
	tp := TargetPortal{TPGT: -1}
	addr := v
	if i := strings.LastIndexByte(v, ','); i >= 0 && !strings.Contains(v[i:], "]") {
		tag, err := strconv.Atoi(v[i+1:])
		if err != nil || tag < 0 || tag > 65535 {
			return tp, fmt.Errorf("iscsi: TargetAddress %q: bad portal group tag", v)
		}
		addr, tp.TPGT = v[:i], tag
	}
	if addr == "" {
		return tp, fmt.Errorf("iscsi: TargetAddress %q: empty address", v)
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] <= ' ' || addr[i] >= 0x7f || addr[i] == ',' {
			return tp, fmt.Errorf("iscsi: TargetAddress %q: byte %#x in the address", v, addr[i])
		}
	}
	tp.Addr = withPort(addr)
	host, port, err := net.SplitHostPort(tp.Addr)
	if err != nil {
		return tp, fmt.Errorf("iscsi: TargetAddress %q: %v", v, err)
	}
	if host == "" {
		return tp, fmt.Errorf("iscsi: TargetAddress %q: empty host", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return tp, fmt.Errorf("iscsi: TargetAddress %q: bad port %q", v, port)
	}
	return tp, nil
}

// portalOf strips the portal group tag of a TargetAddress value.
func portalOf(v string) string {
	if tp, err := parseTargetAddress(v); err == nil {
		return tp.Addr
	}
	return v
}
