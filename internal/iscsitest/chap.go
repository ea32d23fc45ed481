package iscsitest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"slices"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/pdu"
)

// CHAP_A algorithm identifiers (RFC 1994, RFC 7143 §12.1.3 and the IANA
// PPP authentication algorithm registry).
const (
	chapMD5     = 5
	chapSHA1    = 6
	chapSHA256  = 7
	chapSHA3256 = 8
)

func chapHash(alg byte) func() hash.Hash {
	switch alg {
	case chapMD5:
		return md5.New
	case chapSHA1:
		return sha1.New
	case chapSHA256:
		return sha256.New
	case chapSHA3256:
		return func() hash.Hash { return sha3.New256() }
	}
	return nil
}

// chapDigest is H(id || secret || challenge) (RFC 1994 §4.1).
func chapDigest(alg, id byte, secret string, challenge []byte) []byte {
	h := chapHash(alg)()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	return h.Sum(nil)
}

type authPhase int

const (
	authStart      authPhase = iota
	authCHAP                 // AuthMethod=CHAP agreed, CHAP_A expected
	authChallenged           // CHAP_C sent, CHAP_N/CHAP_R expected
	authDone
)

type authState struct {
	phase     authPhase
	alg       byte
	id        byte
	challenge []byte
}

// security answers the security keys of a request (AuthMethod, CHAP_*)
// and returns the other keys for negotiation.
func (c *Conn) security(ls *loginState, kvs []pdu.KeyValue) (answers, rest []pdu.KeyValue, err error) {
	sec := map[string]string{}
	for _, kv := range kvs {
		if kv.Key == "AuthMethod" || strings.HasPrefix(kv.Key, "CHAP_") {
			sec[kv.Key] = kv.Value
		} else {
			rest = append(rest, kv)
		}
	}
	steps := []func(*loginState, map[string]string) ([]pdu.KeyValue, error){
		c.authMethod, c.chapAlgorithm, c.chapResponse,
	}
	for _, step := range steps {
		a, err := step(ls, sec)
		if err != nil {
			return nil, nil, err
		}
		answers = append(answers, a...)
	}
	if _, ok := sec["AuthMethod"]; !ok && ls.auth.phase == authStart && c.cfg.CHAP == nil {
		ls.auth.phase = authDone // no AuthMethod offered: None
	}
	return answers, rest, nil
}

// authMethod picks CHAP when the target requires it, else None.
func (c *Conn) authMethod(ls *loginState, sec map[string]string) ([]pdu.KeyValue, error) {
	v, ok := sec["AuthMethod"]
	if !ok {
		return nil, nil
	}
	want := "None"
	if c.cfg.CHAP != nil {
		want = "CHAP"
	}
	if !slices.Contains(pdu.SplitList(v), want) {
		return nil, failLogin(pdu.LoginAuthenticationFailure, "AuthMethod=%s offered, target requires %s", v, want)
	}
	ls.params.AuthMethod = want
	if want == "CHAP" {
		ls.auth.phase = authCHAP
	} else {
		ls.auth.phase = authDone
	}
	return []pdu.KeyValue{{Key: "AuthMethod", Value: want}}, nil
}

// chapAlgorithm picks the first offered algorithm the target accepts and
// sends the challenge.
func (c *Conn) chapAlgorithm(ls *loginState, sec map[string]string) ([]pdu.KeyValue, error) {
	v, ok := sec["CHAP_A"]
	if !ok {
		return nil, nil
	}
	if ls.auth.phase != authCHAP {
		return nil, failLogin(pdu.LoginInitiatorError, "CHAP_A out of sequence")
	}
	for _, a := range pdu.SplitList(v) {
		n, err := strconv.Atoi(a)
		if err == nil && n < 256 && slices.Contains(c.cfg.CHAP.Algorithms, byte(n)) && chapHash(byte(n)) != nil {
			return c.challenge(ls, byte(n)), nil
		}
	}
	return nil, failLogin(pdu.LoginAuthenticationFailure, "no acceptable CHAP_A in %q", v)
}

// challenge makes a deterministic challenge as long as the digest.
func (c *Conn) challenge(ls *loginState, alg byte) []pdu.KeyValue {
	seq := c.t.nextChallenge()
	h := chapHash(alg)()
	h.Write([]byte(c.cfg.Name))
	_ = binary.Write(h, binary.BigEndian, seq)
	ls.auth = authState{phase: authChallenged, alg: alg, id: byte(seq), challenge: h.Sum(nil)}
	ls.params.CHAPAlgorithm = alg
	return []pdu.KeyValue{
		{Key: "CHAP_A", Value: strconv.Itoa(int(alg))},
		{Key: "CHAP_I", Value: strconv.Itoa(int(ls.auth.id))},
		{Key: "CHAP_C", Value: pdu.FormatHex(ls.auth.challenge)},
	}
}

// chapResponse verifies CHAP_N and CHAP_R and answers a mutual challenge.
func (c *Conn) chapResponse(ls *loginState, sec map[string]string) ([]pdu.KeyValue, error) {
	name, hasN := sec["CHAP_N"]
	r, hasR := sec["CHAP_R"]
	if !hasN && !hasR {
		return nil, nil
	}
	if ls.auth.phase != authChallenged || !hasN || !hasR {
		return nil, failLogin(pdu.LoginInitiatorError, "CHAP_N/CHAP_R out of sequence or incomplete")
	}
	got, err := pdu.ParseBinary(r)
	want := chapDigest(ls.auth.alg, ls.auth.id, c.cfg.CHAP.Secret, ls.auth.challenge)
	if err != nil || name != c.cfg.CHAP.User || subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, failLogin(pdu.LoginAuthenticationFailure, "CHAP response of %q does not verify", name)
	}
	ls.auth.phase = authDone
	return c.mutual(ls, sec)
}

// mutual answers the initiator's CHAP_I/CHAP_C, if any.
func (c *Conn) mutual(ls *loginState, sec map[string]string) ([]pdu.KeyValue, error) {
	iv, hasI := sec["CHAP_I"]
	cv, hasC := sec["CHAP_C"]
	if !hasI && !hasC {
		return nil, nil
	}
	id, err1 := pdu.ParseNumber(iv)
	ch, err2 := pdu.ParseBinary(cv)
	switch {
	case !hasI || !hasC || err1 != nil || err2 != nil || id > 255:
		return nil, failLogin(pdu.LoginAuthenticationFailure, "malformed mutual CHAP_I/CHAP_C")
	case c.cfg.CHAP.MutualSecret == "":
		return nil, failLogin(pdu.LoginAuthenticationFailure, "mutual CHAP requested, no mutual secret configured")
	case subtle.ConstantTimeCompare(ch, ls.auth.challenge) == 1:
		return nil, failLogin(pdu.LoginAuthenticationFailure, "initiator reflected the target's challenge")
	}
	ls.params.MutualCHAP = true
	resp := chapDigest(ls.auth.alg, byte(id), c.cfg.CHAP.MutualSecret, ch)
	return []pdu.KeyValue{
		{Key: "CHAP_N", Value: c.cfg.CHAP.MutualUser},
		{Key: "CHAP_R", Value: pdu.FormatHex(resp)},
	}, nil
}
