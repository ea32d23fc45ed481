package iscsi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gomp-dev/gomp/iscsi/internal/chap"
	"github.com/gomp-dev/gomp/iscsi/internal/negotiate"
	"github.com/gomp-dev/gomp/pdu"
)

// loginResult is what a successful login hands the full-feature phase.
type loginResult struct {
	tsih      uint16
	params    Params
	expStatSN uint32
	expCmdSN  uint32
	maxCmdSN  uint32
	// login PDUs exchanged, for the session's counters
	sent, received uint32
	// movedTo is the portal a permanent redirect (0x0102) named, which
	// later logins of the session use; "" without one.
	movedTo string
}

// maxTextPDUs bounds the PDUs of one continued login or text answer: more
// than 1 MiB of text (pdu.TextLimits) needs at the smallest segment, so
// that a target continuing with empty PDUs cannot keep us busy forever.
const maxTextPDUs = 2048

// errRetryMD5 asks the caller to log in again offering CHAP_A=5 alone.
var errRetryMD5 = errors.New("target refused the CHAP algorithm list")

// redirectError carries a login redirection (status class 1).
type redirectError struct {
	addr      string
	permanent bool // 0x0102: later logins go to addr too
}

func (e *redirectError) Error() string { return "redirected to " + e.addr }

// login runs the login phase (RFC 7143 §6.3, §11.12) on one connection.
type login struct {
	cfg       Config
	t         *transport
	tsih      uint16
	discovery bool
	algs      []chap.Algorithm

	itt       uint32
	cmdSN     uint32
	expStatSN uint32
	csg       pdu.Stage
	neg       *negotiate.Negotiator
	asm       pdu.TextAssembler
	last      *pdu.LoginResponse // copy of the last response header
	sent      uint32             // login PDUs written
	received  uint32             // login PDUs read

	// mutual CHAP state
	ourID        byte
	ourChallenge []byte
	alg          chap.Algorithm
}

func (l *login) fail(status pdu.LoginStatus, err error) error {
	return &LoginError{Portal: l.cfg.Portal, Target: l.cfg.TargetName, Status: status, Err: err,
		UsedCHAP: l.cfg.CHAP != nil}
}

func (l *login) run(ctx context.Context) (*loginResult, error) {
	st := negotiate.Normal
	if l.discovery {
		st = negotiate.Discovery
	}
	l.neg = negotiate.New(l.cfg.Negotiation.config(), st)
	if dl, ok := ctx.Deadline(); ok {
		_ = l.t.conn.SetDeadline(dl)
		defer l.t.conn.SetDeadline(zeroTime)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.t.conn.SetDeadline(pastTime) })
	defer stop()
	if err := l.security(); err != nil {
		return nil, err
	}
	if err := l.operational(); err != nil {
		return nil, err
	}
	r := l.last
	return &loginResult{tsih: r.TSIH, params: Params(l.neg.Result()), expStatSN: l.expStatSN,
		expCmdSN: r.ExpCmdSN, maxCmdSN: r.MaxCmdSN, sent: l.sent, received: l.received}, nil
}

// leadingKeys are sent in the first Login Request (RFC 7143 §13.1).
func (l *login) leadingKeys(auth string) []pdu.KeyValue {
	kvs := []pdu.KeyValue{{Key: "InitiatorName", Value: l.cfg.InitiatorName}}
	if l.cfg.InitiatorAlias != "" {
		kvs = append(kvs, pdu.KeyValue{Key: "InitiatorAlias", Value: l.cfg.InitiatorAlias})
	}
	if l.discovery {
		kvs = append(kvs, pdu.KeyValue{Key: "SessionType", Value: "Discovery"})
	} else {
		kvs = append(kvs, pdu.KeyValue{Key: "SessionType", Value: "Normal"},
			pdu.KeyValue{Key: "TargetName", Value: l.cfg.TargetName})
	}
	return append(kvs, pdu.KeyValue{Key: "AuthMethod", Value: auth})
}

func (l *login) security() error {
	if l.cfg.CHAP == nil {
		kvs, err := l.exchange(l.leadingKeys(pdu.ValueNone), true, pdu.StageOperational)
		if err != nil {
			return err
		}
		if v, _ := pdu.Lookup(kvs, "AuthMethod"); v != "" && v != pdu.ValueNone {
			return l.fail(0, fmt.Errorf("target requires AuthMethod=%s; pass --chap-user and --chap-secret-file", v))
		}
		return l.untilStage(pdu.StageOperational)
	}
	kvs, err := l.exchange(l.leadingKeys("CHAP,None"), false, pdu.StageOperational)
	if err != nil {
		return err
	}
	switch v, _ := pdu.Lookup(kvs, "AuthMethod"); v {
	case "CHAP":
		return l.chap()
	case pdu.ValueNone:
		if l.cfg.CHAP.TargetSecret != nil {
			return l.fail(0, errors.New("target refused CHAP, but mutual CHAP was required"))
		}
		if _, err := l.exchange(nil, true, pdu.StageOperational); err != nil {
			return err
		}
		return l.untilStage(pdu.StageOperational)
	default:
		return l.fail(0, fmt.Errorf("target answered AuthMethod=%q to CHAP,None", v))
	}
}

func (l *login) chap() error {
	c := l.cfg.CHAP
	kvs, err := l.exchange([]pdu.KeyValue{{Key: "CHAP_A", Value: chap.FormatAlgorithms(l.algs)}}, false, pdu.StageOperational)
	if err != nil {
		var le *LoginError
		if len(l.algs) > 1 && errors.As(err, &le) && le.Status.Class() == pdu.ClassInitiatorError {
			return errRetryMD5
		}
		return err
	}
	av, _ := pdu.Lookup(kvs, "CHAP_A")
	if av == pdu.ValueReject && len(l.algs) > 1 {
		return errRetryMD5
	}
	if l.alg, err = chap.ParseAlgorithm(av); err != nil || !offered(l.algs, l.alg) {
		return l.fail(0, fmt.Errorf("target chose CHAP_A=%q, which we did not offer", av))
	}
	id, challenge, err := chapChallenge(kvs)
	if err == nil {
		err = chap.ValidateChallenge(nil, challenge)
	}
	if err != nil {
		return l.fail(0, err)
	}
	reply := []pdu.KeyValue{
		{Key: "CHAP_N", Value: c.User},
		{Key: "CHAP_R", Value: pdu.FormatHex(chap.Response(l.alg, id, chap.Secret(c.Secret), challenge))},
	}
	if c.TargetSecret != nil {
		if l.ourID, l.ourChallenge, err = chap.NewChallenge(l.alg, nil); err != nil {
			return l.fail(0, err)
		}
		if err := chap.ValidateChallenge(l.ourChallenge, challenge); err != nil {
			return l.fail(0, err)
		}
		reply = append(reply, pdu.KeyValue{Key: "CHAP_I", Value: fmt.Sprint(l.ourID)},
			pdu.KeyValue{Key: "CHAP_C", Value: pdu.FormatHex(l.ourChallenge)})
	}
	kvs, err = l.exchange(reply, true, pdu.StageOperational)
	var le *LoginError
	if errors.As(err, &le) && le.Status.Class() == pdu.ClassInitiatorError && l.alg != chap.MD5 && len(l.algs) > 1 {
		// Some targets number CHAP_A differently (tgtd reads 7 as SHA-1,
		// IANA says SHA-256, and answers our 32-byte CHAP_R with "initiator
		// error"): retry with the one value all agree on.
		return errRetryMD5
	}
	if err != nil {
		return err
	}
	if c.TargetSecret != nil {
		if err := l.verifyTarget(kvs); err != nil {
			return err
		}
	}
	return l.untilStage(pdu.StageOperational)
}

func offered(algs []chap.Algorithm, a chap.Algorithm) bool {
	for _, x := range algs {
		if x == a {
			return true
		}
	}
	return false
}

func chapChallenge(kvs []pdu.KeyValue) (byte, []byte, error) {
	iv, _ := pdu.Lookup(kvs, "CHAP_I")
	id, err := pdu.ParseNumber(iv)
	if err != nil || id > 255 {
		return 0, nil, fmt.Errorf("target sent CHAP_I=%q, not a byte", iv)
	}
	cv, _ := pdu.Lookup(kvs, "CHAP_C")
	challenge, err := pdu.ParseBinary(cv)
	if err != nil || len(challenge) == 0 {
		return 0, nil, fmt.Errorf("target sent an invalid CHAP_C: %v", err)
	}
	return byte(id), challenge, nil
}

// verifyTarget checks the target's answer to our mutual CHAP challenge.
func (l *login) verifyTarget(kvs []pdu.KeyValue) error {
	c := l.cfg.CHAP
	n, _ := pdu.Lookup(kvs, "CHAP_N")
	rv, _ := pdu.Lookup(kvs, "CHAP_R")
	resp, err := pdu.ParseBinary(rv)
	if err != nil {
		return l.fail(0, errors.New("mutual CHAP: target sent no valid CHAP_R"))
	}
	if c.TargetUser != "" && n != c.TargetUser {
		return l.fail(0, fmt.Errorf("mutual CHAP: target answered as %q, expected %q", n, c.TargetUser))
	}
	if !chap.Verify(l.alg, l.ourID, chap.Secret(c.TargetSecret), l.ourChallenge, resp) {
		return l.fail(0, errors.New("mutual CHAP: target failed to authenticate"))
	}
	return nil
}

// untilStage sends empty transit requests until the target moves to next.
func (l *login) untilStage(next pdu.Stage) error {
	for range 8 {
		if l.csg == next || (l.last.Transit && l.last.NSG == next) {
			l.csg = next
			return nil
		}
		if _, err := l.exchange(nil, true, next); err != nil {
			return err
		}
	}
	return l.fail(0, fmt.Errorf("target did not move to %v", next))
}

func (l *login) operational() error {
	kvs, err := l.exchange(l.neg.Offer(), true, pdu.StageFullFeature)
	for round := 0; ; round++ {
		if err != nil {
			return err
		}
		reply, herr := l.neg.Handle(kvs)
		if herr != nil {
			return l.fail(0, herr)
		}
		if l.last.Transit && l.last.NSG == pdu.StageFullFeature {
			if p := l.neg.Pending(); len(p) > 0 {
				return l.fail(0, fmt.Errorf("target left keys unanswered: %s", strings.Join(p, ", ")))
			}
			return nil
		}
		if round == 16 {
			return l.fail(0, errors.New("operational negotiation did not converge"))
		}
		kvs, err = l.exchange(reply, true, pdu.StageFullFeature)
	}
}

// exchange sends keys (split over several PDUs with the C bit if needed)
// and returns the keys of the target's complete answer (gathered across
// continued responses). transit/nsg go on the request's last PDU.
func (l *login) exchange(kvs []pdu.KeyValue, transit bool, nsg pdu.Stage) ([]pdu.KeyValue, error) {
	text, err := pdu.AppendText(nil, kvs...)
	if err != nil {
		return nil, l.fail(0, err)
	}
	max := l.t.fr.MaxSendDataSegmentLength()
	for {
		chunk, rest := pdu.NextChunk(text, max)
		more := len(rest) > 0
		if err := l.send(chunk, transit && !more, more, nsg); err != nil {
			return nil, err
		}
		resp, err := l.receive()
		if err != nil {
			return nil, err
		}
		if !more {
			return l.gather(resp, nsg)
		}
		if len(resp.Data) != 0 {
			return nil, l.fail(0, protocolError("target answered a continued login request with data"))
		}
		text = rest
	}
}

// declared hands the target's non-security keys of a security-stage
// response (tgtd declares TargetPortalGroupTag there) to the negotiator.
func (l *login) declared(kvs []pdu.KeyValue) error {
	var ops []pdu.KeyValue
	for _, kv := range kvs {
		if !negotiate.IsSecurityKey(kv.Key) {
			ops = append(ops, kv)
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if _, err := l.neg.Handle(ops); err != nil {
		return l.fail(0, err)
	}
	return nil
}

// gather collects continued responses (C bit) into one key list, from at
// most maxTextPDUs responses.
func (l *login) gather(resp *pdu.LoginResponse, nsg pdu.Stage) ([]pdu.KeyValue, error) {
	for round := 1; ; round++ {
		if round > maxTextPDUs {
			return nil, l.fail(0, protocolError("target continued its login response over %d PDUs", maxTextPDUs))
		}
		kvs, done, err := l.asm.Add(resp.Data, resp.Continue)
		if err != nil {
			return nil, l.fail(0, err)
		}
		if done {
			inSecurity := l.csg == pdu.StageSecurity
			if resp.Transit {
				l.csg = resp.NSG
			}
			if inSecurity {
				if err := l.declared(kvs); err != nil {
					return nil, err
				}
			}
			return kvs, nil
		}
		if err := l.send(nil, false, false, nsg); err != nil {
			return nil, err
		}
		if resp, err = l.receive(); err != nil {
			return nil, err
		}
	}
}

func (l *login) send(data []byte, transit, cont bool, nsg pdu.Stage) error {
	req := &pdu.LoginRequest{Transit: transit, Continue: cont, CSG: l.csg, NSG: nsg,
		ISID: l.cfg.ISID, TSIH: l.tsih, ITT: l.itt, CmdSN: l.cmdSN, ExpStatSN: l.expStatSN, Data: data}
	if !transit {
		req.NSG = 0
	}
	if err := l.t.fr.WritePDU(req); err != nil {
		return &ConnError{Portal: l.cfg.Portal, Err: fmt.Errorf("login: %w", err)}
	}
	l.sent++
	return nil
}

func (l *login) receive() (*pdu.LoginResponse, error) {
	p, err := l.t.fr.ReadPDU()
	if err != nil {
		return nil, &ConnError{Portal: l.cfg.Portal, Err: fmt.Errorf("login: %w", wireError(err))}
	}
	l.received++
	r, ok := p.(*pdu.LoginResponse)
	if !ok {
		return nil, &ConnError{Portal: l.cfg.Portal, Err: protocolError("%v during login", p.Opcode())}
	}
	if r.ITT != l.itt {
		return nil, &ConnError{Portal: l.cfg.Portal, Err: protocolError("login response ITT 0x%x, sent 0x%x", r.ITT, l.itt)}
	}
	switch r.Status.Class() {
	case pdu.ClassSuccess:
	case pdu.ClassRedirection:
		kvs, _ := pdu.ParseText(r.Data, pdu.TextLimits{})
		addr, _ := pdu.Lookup(kvs, "TargetAddress")
		if addr == "" {
			return nil, l.fail(r.Status, errors.New("redirect without TargetAddress"))
		}
		return nil, &redirectError{addr: addr, permanent: r.Status == pdu.LoginTargetMovedPermanently}
	default:
		return nil, l.fail(r.Status, nil)
	}
	// Login requests are immediate: CmdSN stays; ExpStatSN follows StatSN.
	l.expStatSN = r.StatSN + 1
	last := *r
	last.Data = nil
	l.last = &last
	return r, nil
}
