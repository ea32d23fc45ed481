package iscsitest

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gomp-dev/gomp/pdu"
)

// loginFail ends a login with a status (RFC 7143 §11.13.5).
type loginFail struct {
	status pdu.LoginStatus
	reason string
}

func (e *loginFail) Error() string { return e.reason }

func failLogin(status pdu.LoginStatus, format string, args ...any) error {
	return &loginFail{status: status, reason: fmt.Sprintf(format, args...)}
}

// loginState is the progress of one login phase.
type loginState struct {
	params   Params
	started  bool      // the leading request was seen
	stage    pdu.Stage // current stage
	asm      pdu.TextAssembler
	out      []byte // response text not yet sent (C bit)
	transit  bool   // transit once out is sent
	nsg      pdu.Stage
	seen     map[string]bool // keys negotiated so far
	declared bool            // the target's declarations went out
	auth     authState
}

// login runs the login phase (RFC 7143 §6.3) up to full feature phase.
func (c *Conn) login() error {
	ls := &loginState{params: defaultParams(), seen: map[string]bool{}}
	ls.params.TargetMaxRecvDataSegmentLength = c.cfg.MaxRecvDataSegmentLength
	for {
		p, err := c.fr.ReadPDU()
		if err != nil {
			return err
		}
		switch c.onReceive(p) {
		case Drop:
			continue
		case Continue:
		default:
			return errKilled
		}
		done, err := c.loginPDU(ls, p)
		if err != nil || done {
			return err
		}
	}
}

// loginPDU handles one login-phase PDU under the lock.
func (c *Conn) loginPDU(ls *loginState, p pdu.PDU) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count(p, true)
	req, ok := p.(*pdu.LoginRequest)
	if !ok {
		c.violation("%v during login", p.Opcode())
		req = &pdu.LoginRequest{CSG: ls.stage}
		return false, c.rejectLogin(ls, req, &loginFail{pdu.LoginInvalidDuringLogin, p.Opcode().String() + " during login"})
	}
	done, err := c.loginStep(ls, req)
	var lf *loginFail
	if errors.As(err, &lf) {
		return false, c.rejectLogin(ls, req, lf)
	}
	return done, err
}

// loginStep answers one Login Request. It returns true after the final
// response, when the connection is in full feature phase.
func (c *Conn) loginStep(ls *loginState, req *pdu.LoginRequest) (bool, error) {
	if err := c.checkRequest(ls, req); err != nil {
		return false, err
	}
	if len(ls.out) > 0 {
		if len(req.Data) > 0 {
			c.violation("login request with data while the target's response continues")
		}
		return c.sendLoginChunk(ls, req)
	}
	kvs, complete, err := ls.asm.Add(req.Data, req.Continue)
	if err != nil {
		return false, failLogin(pdu.LoginInitiatorError, "login text: %v", err)
	}
	if !complete { // the initiator continues: answer with an empty response
		return false, c.sendLogin(ls, req, &pdu.LoginResponse{CSG: ls.stage})
	}
	ls.params.Keys = append(ls.params.Keys, kvs...)
	answers, err := c.loginKeys(ls, req, kvs)
	if err != nil {
		return false, err
	}
	ls.transit, ls.nsg = c.canTransit(ls, req), req.NSG
	answers = c.declare(ls, answers)
	if ls.out, err = pdu.AppendText(nil, answers...); err != nil {
		return false, err
	}
	return c.sendLoginChunk(ls, req)
}

// checkRequest validates the stage and session fields of a request and
// takes the session fields from the leading one.
func (c *Conn) checkRequest(ls *loginState, req *pdu.LoginRequest) error {
	if !ls.started {
		return c.leading(ls, req)
	}
	if req.CSG != ls.stage {
		return failLogin(pdu.LoginInitiatorError, "CSG %v, expected %v", req.CSG, ls.stage)
	}
	if req.ISID != ls.params.ISID || req.TSIH != 0 || req.CID != ls.params.CID {
		return failLogin(pdu.LoginInitiatorError, "ISID, TSIH or CID changed during login")
	}
	return nil
}

// leading takes the session identity from the first Login Request.
func (c *Conn) leading(ls *loginState, req *pdu.LoginRequest) error {
	ls.started, ls.stage = true, req.CSG
	ls.params.ISID, ls.params.CID = req.ISID, req.CID
	c.expCmdSN = req.CmdSN
	switch {
	case req.VersionMin > 0:
		return failLogin(pdu.LoginUnsupportedVersion, "version-min %d, only 0 is supported", req.VersionMin)
	case req.TSIH != 0:
		return failLogin(pdu.LoginSessionDoesNotExist, "TSIH %d: adding connections to a session is not supported", req.TSIH)
	}
	return nil
}

// loginKeys answers the keys of a complete login text.
func (c *Conn) loginKeys(ls *loginState, req *pdu.LoginRequest, kvs []pdu.KeyValue) ([]pdu.KeyValue, error) {
	var answers []pdu.KeyValue
	if !ls.seen["InitiatorName"] {
		if err := c.sessionKeys(ls, kvs); err != nil {
			return nil, err
		}
		if ls.params.SessionType == "Normal" { // RFC 7143 §13.9
			answers = append(answers, pdu.KeyValue{Key: "TargetPortalGroupTag", Value: strconv.Itoa(int(c.cfg.PortGroup))})
		}
	}
	if req.CSG == pdu.StageOperational && ls.auth.phase != authDone {
		if c.cfg.CHAP != nil {
			return nil, failLogin(pdu.LoginAuthenticationFailure, "security stage skipped but CHAP is required")
		}
		ls.auth.phase = authDone
	}
	if ls.stage == pdu.StageSecurity {
		sec, rest, err := c.security(ls, kvs)
		if err != nil {
			return nil, err
		}
		answers, kvs = append(answers, sec...), rest
	}
	for _, kv := range kvs {
		if ls.seen[kv.Key] && !isSessionKey(kv.Key) {
			c.violation("login key %s negotiated twice", kv.Key)
		}
		ls.seen[kv.Key] = true
		if v, ok := c.negotiate(&ls.params, kv); ok {
			answers = append(answers, pdu.KeyValue{Key: kv.Key, Value: v})
		}
	}
	return answers, nil
}

// sessionKeys checks the keys of the leading request (RFC 7143 §6.3):
// InitiatorName, SessionType and, for normal sessions, TargetName.
func (c *Conn) sessionKeys(ls *loginState, kvs []pdu.KeyValue) error {
	name, ok := pdu.Lookup(kvs, "InitiatorName")
	if !ok {
		return failLogin(pdu.LoginMissingParameter, "no InitiatorName")
	}
	ls.params.InitiatorName, ls.seen["InitiatorName"] = name, true
	if st, ok := pdu.Lookup(kvs, "SessionType"); ok {
		ls.params.SessionType = st
	}
	switch ls.params.SessionType {
	case "Discovery":
		return nil
	case "Normal":
	default:
		return failLogin(pdu.LoginSessionTypeUnsupported, "SessionType %q", ls.params.SessionType)
	}
	tn, ok := pdu.Lookup(kvs, "TargetName")
	switch {
	case !ok:
		return failLogin(pdu.LoginMissingParameter, "no TargetName in a normal session")
	case tn != c.cfg.Name:
		return failLogin(pdu.LoginNotFound, "TargetName %q, this is %q", tn, c.cfg.Name)
	case c.cfg.Redirect != "":
		status := pdu.LoginTargetMovedTemporarily
		if c.cfg.RedirectPermanent {
			status = pdu.LoginTargetMovedPermanently
		}
		return failLogin(status, "redirected to %s", c.cfg.Redirect)
	}
	ls.params.TargetName = tn
	return nil
}

func isSessionKey(k string) bool {
	return k == "InitiatorName" || k == "SessionType" || k == "TargetName" || k == "InitiatorAlias"
}

// canTransit decides the T bit: the initiator asked for it, and leaving the
// security stage needs authentication done.
func (c *Conn) canTransit(ls *loginState, req *pdu.LoginRequest) bool {
	if !req.Transit {
		return false
	}
	return ls.stage != pdu.StageSecurity || ls.auth.phase == authDone
}

// declare adds the target's declarations (MaxRecvDataSegmentLength,
// TargetAlias) to its first operational-stage response, or to the response
// that goes from security straight to full feature phase.
func (c *Conn) declare(ls *loginState, answers []pdu.KeyValue) []pdu.KeyValue {
	leaving := ls.transit && ls.nsg == pdu.StageFullFeature
	if ls.declared || ls.stage != pdu.StageOperational && !leaving {
		return answers
	}
	ls.declared = true
	answers = append(answers, pdu.KeyValue{Key: "MaxRecvDataSegmentLength",
		Value: strconv.Itoa(c.cfg.MaxRecvDataSegmentLength)})
	if c.cfg.Alias != "" && ls.params.SessionType == "Normal" {
		answers = append(answers, pdu.KeyValue{Key: "TargetAlias", Value: c.cfg.Alias})
	}
	return answers
}

// sendLoginChunk sends the next part of the response text, with C set if
// more remains, and finishes the login after the final response.
func (c *Conn) sendLoginChunk(ls *loginState, req *pdu.LoginRequest) (bool, error) {
	chunk, rest := pdu.NextChunk(ls.out, pdu.DefaultMaxDataSegmentLength)
	ls.out = rest
	resp := &pdu.LoginResponse{CSG: ls.stage, Continue: rest != nil, Data: chunk}
	final := rest == nil && ls.transit
	if final {
		resp.Transit, resp.NSG = true, ls.nsg
	}
	if final && ls.nsg == pdu.StageFullFeature {
		ls.params.TSIH = c.t.newTSIH()
	}
	if err := c.sendLogin(ls, req, resp); err != nil || !final {
		return false, err
	}
	ls.stage = ls.nsg
	if ls.nsg != pdu.StageFullFeature {
		return false, nil
	}
	c.enterFullFeature(ls)
	return true, nil
}

// sendLogin fills the session fields of a response and sends it.
func (c *Conn) sendLogin(ls *loginState, req *pdu.LoginRequest, resp *pdu.LoginResponse) error {
	resp.ISID, resp.TSIH, resp.ITT = ls.params.ISID, ls.params.TSIH, req.ITT
	resp.StatSN, resp.ExpCmdSN, resp.MaxCmdSN = c.nextStatSN(), c.expCmdSN, c.maxCmdSN()
	c.publish(ls.params)
	return c.send(resp)
}

// enterFullFeature switches the connection to the negotiated parameters:
// digests start with the first full feature PDU (RFC 7143 §13.1).
func (c *Conn) enterFullFeature(ls *loginState) {
	p := ls.params
	p.FirstBurstLength = min(p.FirstBurstLength, p.MaxBurstLength)
	c.neg = p
	c.publish(p)
	c.setDigests(p.HeaderDigest, p.DataDigest, c.cfg.MaxRecvDataSegmentLength, p.InitiatorMaxRecvDataSegmentLength)
	if c.cfg.UnitAttentionOnLogin {
		for n := range c.cfg.LUNs {
			c.ua[n] = 0x2900 // POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
		}
	}
	c.log.Debug("login complete", "initiator", p.InitiatorName, "session", p.SessionType, "tsih", p.TSIH)
}

// rejectLogin answers with a failure status and ends the login.
func (c *Conn) rejectLogin(ls *loginState, req *pdu.LoginRequest, lf *loginFail) error {
	resp := &pdu.LoginResponse{CSG: req.CSG, NSG: req.NSG, Status: lf.status}
	if lf.status.Class() == pdu.ClassRedirection {
		resp.Data, _ = pdu.AppendText(nil, pdu.KeyValue{Key: "TargetAddress", Value: c.cfg.Redirect})
	}
	if err := c.sendLogin(ls, req, resp); err != nil {
		return err
	}
	return &LoginRejectedError{Status: lf.status, Reason: lf.reason}
}
