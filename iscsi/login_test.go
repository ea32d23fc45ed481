package iscsi

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

const (
	chapUser         = "alice"
	chapSecret       = "alice-secret-0123"
	chapTargetUser   = "the-target"
	chapTargetSecret = "target-secret-4567"
)

func TestLoginNoAuth(t *testing.T) {
	f := newFake(t, iscsitest.Config{})
	s := f.dial(t)
	require.Equal(t, StateLoggedIn, s.State())
	require.Equal(t, fakePortal, s.Portal())
	require.Equal(t, f.tg.Name(), s.TargetName())

	c := f.conn(t)
	p := c.Params()
	require.Equal(t, "None", p.AuthMethod)
	require.Equal(t, "Normal", p.SessionType)
	require.Equal(t, testInitiator, p.InitiatorName)
	require.Equal(t, s.ISID(), p.ISID)
	require.Equal(t, byte(pdu.ISIDTypeRandom), s.ISID()[0]&0xc0, "random-format ISID")
	require.NotZero(t, p.TSIH)
	require.NoError(t, s.Ping(ctxT(t)))

	require.NoError(t, s.Close(context.Background()))
	require.Equal(t, StateClosed, s.State())
	require.Equal(t, 1, c.Stats().Received[pdu.OpLogoutReq], "Close logs out")
	<-c.Done()
	require.ErrorIs(t, s.Ping(ctxT(t)), ErrSessionClosed)
	requireNoGoroutines(t)
}

// CHAP one-way and mutual against targets that take MD5 only, SHA-256
// only, or both: our default offer (SHA3-256, SHA-256, SHA-1, MD5) ends
// on an algorithm each supports, in one login.
func TestLoginCHAP(t *testing.T) {
	cases := []struct {
		name       string
		targetAlgs []byte // CHAP_A values the target accepts
		ours       []CHAPAlgorithm
		mutual     bool
		want       byte
	}{
		{name: "MD5 target", targetAlgs: []byte{5}, want: 5},
		{name: "SHA-256 target", targetAlgs: []byte{7}, want: 7},
		{name: "MD5 and SHA-256 target", targetAlgs: []byte{5, 7}, want: 7},
		{name: "mutual MD5", targetAlgs: []byte{5}, mutual: true, want: 5},
		{name: "mutual SHA-256", targetAlgs: []byte{7}, mutual: true, want: 7},
		{name: "explicit MD5 list", targetAlgs: []byte{5, 7}, ours: []CHAPAlgorithm{CHAPMD5}, want: 5},
		{name: "SHA3-256 target", targetAlgs: []byte{8}, mutual: true, want: 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tcfg := iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret, Algorithms: tc.targetAlgs}
			ours := &CHAP{User: chapUser, Secret: Secret(chapSecret), Algorithms: tc.ours}
			if tc.mutual {
				tcfg.MutualUser, tcfg.MutualSecret = chapTargetUser, chapTargetSecret
				ours.TargetUser, ours.TargetSecret = chapTargetUser, Secret(chapTargetSecret)
			}
			f := newFake(t, iscsitest.Config{CHAP: &tcfg})
			s := f.dial(t, func(c *Config) { c.CHAP = ours })
			p := f.conn(t).Params()
			require.Equal(t, "CHAP", p.AuthMethod)
			require.Equal(t, tc.want, p.CHAPAlgorithm)
			require.Equal(t, tc.mutual, p.MutualCHAP)
			require.Len(t, f.Dialed(), 1, "no retry needed")
			require.NoError(t, s.Ping(ctxT(t)))
		})
	}
}

// Every way a CHAP login can fail ends in a *LoginError naming the portal,
// never an ErrConnection, never with a secret in its text.
func TestLoginCHAPFailures(t *testing.T) {
	good := func() *CHAP { return &CHAP{User: chapUser, Secret: Secret(chapSecret)} }
	mutual := func() *CHAP {
		c := good()
		c.TargetUser, c.TargetSecret = chapTargetUser, Secret(chapTargetSecret)
		return c
	}
	// badCHAPR flips a digit of the target's mutual CHAP_R.
	badCHAPR := func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if r, ok := p.(*pdu.LoginResponse); ok {
			if i := bytes.Index(r.Data, []byte("CHAP_R=0x")); i >= 0 {
				d := &r.Data[i+len("CHAP_R=0x")]
				*d = map[bool]byte{true: '1', false: '0'}[*d == '0'] // another hex digit
			}
		}
		return iscsitest.Continue
	}
	cases := []struct {
		name     string
		target   *iscsitest.CHAPConfig // nil: no authentication
		hook     func(*iscsitest.Conn, pdu.PDU) iscsitest.Action
		ours     *CHAP
		status   pdu.LoginStatus
		usedCHAP bool
		text     string // in the error
	}{
		{name: "wrong secret", target: &iscsitest.CHAPConfig{User: chapUser, Secret: "other-secret-000"},
			ours: good(), status: pdu.LoginAuthenticationFailure, usedCHAP: true, text: "check the CHAP user and secret"},
		{name: "wrong secret SHA-256", target: &iscsitest.CHAPConfig{User: chapUser, Secret: "other-secret-000", Algorithms: []byte{7}},
			ours: good(), status: pdu.LoginAuthenticationFailure, usedCHAP: true},
		{name: "wrong user", target: &iscsitest.CHAPConfig{User: "bob", Secret: chapSecret},
			ours: good(), status: pdu.LoginAuthenticationFailure, usedCHAP: true},
		{name: "CHAP required, none configured", target: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret},
			status: pdu.LoginAuthenticationFailure, text: "CHAP required by target"},
		{name: "no common algorithm", target: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret},
			ours:   &CHAP{User: chapUser, Secret: Secret(chapSecret), Algorithms: []CHAPAlgorithm{CHAPSHA1}},
			status: pdu.LoginAuthenticationFailure, usedCHAP: true},
		{name: "mutual, target knows another secret", target: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret,
			MutualUser: chapTargetUser, MutualSecret: "impostor-secret-0"},
			ours: mutual(), usedCHAP: true, text: "target failed to authenticate"},
		{name: "mutual, target answers as another name", target: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret,
			MutualUser: "impostor", MutualSecret: chapTargetSecret},
			ours: mutual(), usedCHAP: true, text: `answered as "impostor"`},
		{name: "mutual, target sends a bad CHAP_R", target: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret,
			MutualUser: chapTargetUser, MutualSecret: chapTargetSecret}, hook: badCHAPR,
			ours: mutual(), usedCHAP: true, text: "target failed to authenticate"},
		{name: "mutual, target has no mutual secret", target: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret},
			ours: mutual(), status: pdu.LoginAuthenticationFailure, usedCHAP: true},
		{name: "mutual, target without authentication", ours: mutual(), usedCHAP: true, text: "mutual CHAP was required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, iscsitest.Config{CHAP: tc.target, Hooks: iscsitest.Hooks{BeforeSend: tc.hook}})
			cfg := f.cfg()
			cfg.CHAP = tc.ours
			s, err := Dial(context.Background(), cfg)
			require.Nil(t, s)
			var le *LoginError
			require.ErrorAs(t, err, &le)
			require.Equal(t, tc.status, le.Status)
			require.Equal(t, tc.usedCHAP, le.UsedCHAP)
			require.False(t, errors.Is(err, ErrConnection), "a refused login is not a path failure: %v", err)
			msg := err.Error()
			require.Contains(t, msg, fakePortal)
			require.Contains(t, msg, tc.text)
			for _, secret := range []string{chapSecret, chapTargetSecret} {
				require.NotContains(t, msg, secret)
			}
			t.Log(msg)
		})
	}
	requireNoGoroutines(t)
}

// A login redirected (temporarily or permanently) to another portal is
// followed; TargetAddress may carry a portal group tag or omit the port.
func TestLoginRedirect(t *testing.T) {
	cases := []struct {
		name      string
		addr      string // TargetAddress sent
		permanent bool
	}{
		{name: "temporary", addr: "other:3260"},
		{name: "permanent", addr: "other:3260", permanent: true},
		{name: "with portal group tag", addr: "other:3260,7"},
		{name: "default port", addr: "other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet(t)
			from := n.add(fakePortal, iscsitest.Config{Redirect: tc.addr, RedirectPermanent: tc.permanent})
			to := n.add("other:3260", iscsitest.Config{})
			s := n.login(t, n.config(fakePortal, from.Name()))
			require.Equal(t, []string{fakePortal, "other:3260"}, n.Dialed())
			require.NoError(t, s.Ping(ctxT(t)))
			require.Len(t, to.Conns(), 1, "the session runs on the portal redirected to")
		})
	}
}

// After a connection loss, the session is reinstated at the portal a
// permanent redirect (0x0102) named; after a temporary one (0x0101), at
// the portal configured, which redirects again.
func TestRedirectOnReinstatement(t *testing.T) {
	for _, permanent := range []bool{false, true} {
		t.Run(map[bool]string{false: "temporary", true: "permanent"}[permanent], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newFakeNet(t)
				from := n.add(fakePortal, iscsitest.Config{Redirect: "other:3260", RedirectPermanent: permanent})
				n.add("other:3260", iscsitest.Config{})
				cfg := n.config(fakePortal, from.Name())
				cfg.Recover = true
				s := n.login(t, cfg)
				require.Equal(t, []string{fakePortal, "other:3260"}, n.Dialed())
				conns := n.Conns()
				conns[len(conns)-1].Kill()
				for s.State() != StateLoggedIn || len(n.Conns()) < 3 {
					time.Sleep(100 * time.Millisecond)
				}
				want := []string{fakePortal, "other:3260", fakePortal, "other:3260"}
				if permanent {
					want = []string{fakePortal, "other:3260", "other:3260"}
				}
				require.Equal(t, want, n.Dialed())
				require.NoError(t, s.Ping(context.Background()))
			})
		})
	}
}

func TestLoginRedirectLoop(t *testing.T) {
	n := newFakeNet(t)
	a := n.add(fakePortal, iscsitest.Config{Redirect: "other:3260"})
	n.add("other:3260", iscsitest.Config{Redirect: fakePortal})
	_, err := Dial(context.Background(), n.config(fakePortal, a.Name()))
	var le *LoginError
	require.ErrorAs(t, err, &le)
	require.Contains(t, err.Error(), "too many redirects")
	require.Len(t, n.Dialed(), 5)
}

func TestLoginTargetNotFound(t *testing.T) {
	f := newFake(t, iscsitest.Config{})
	_, err := Dial(context.Background(), f.config(fakePortal, "iqn.2026-11.dev.gomp:nosuch"))
	var le *LoginError
	require.ErrorAs(t, err, &le)
	require.Equal(t, pdu.LoginNotFound, le.Status)
	require.Contains(t, err.Error(), "discovery lists them")
}

func TestLoginConnectionRefused(t *testing.T) {
	n := newFakeNet(t)
	_, err := Dial(context.Background(), n.config("nowhere:3260", "iqn.2026-11.dev.gomp:x"))
	require.ErrorIs(t, err, ErrConnection)
	var ce *ConnError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "nowhere:3260", ce.Portal)
}

// Negotiation results are visible in Params, agree with the target's, and
// the data path honours them: a write and a read across every limit.
func TestLoginNegotiation(t *testing.T) {
	crc := []string{"CRC32C"}
	cases := []struct {
		name   string
		target iscsitest.Config
		neg    Negotiation
		check  func(t *testing.T, p Params)
	}{
		{name: "defaults", check: func(t *testing.T, p Params) {
			require.False(t, p.HeaderDigest)
			require.False(t, p.DataDigest)
			require.True(t, p.ImmediateData)
			require.False(t, p.InitialR2T)
			require.Equal(t, 262144, p.MaxRecvDataSegmentLength)
			require.Equal(t, iscsitest.DefaultMaxRecvDataSegmentLength, p.TargetMaxRecvDataSegmentLength)
			require.Equal(t, iscsitest.DefaultMaxBurstLength, p.MaxBurstLength)
			require.Equal(t, iscsitest.DefaultFirstBurstLength, p.FirstBurstLength)
			require.Equal(t, 1, p.MaxOutstandingR2T)
			require.Equal(t, 0, p.ErrorRecoveryLevel)
			require.Equal(t, 1, p.TargetPortalGroupTag)
		}},
		{name: "CRC32C both ways", neg: Negotiation{HeaderDigest: crc, DataDigest: crc},
			check: func(t *testing.T, p Params) {
				require.True(t, p.HeaderDigest)
				require.True(t, p.DataDigest)
			}},
		{name: "CRC32C data only", neg: Negotiation{DataDigest: []string{"CRC32C", "None"}},
			check: func(t *testing.T, p Params) {
				require.False(t, p.HeaderDigest)
				require.True(t, p.DataDigest)
			}},
		{name: "CRC32C preferred, target without digests", target: iscsitest.Config{Digests: []string{"None"}},
			neg: Negotiation{HeaderDigest: []string{"CRC32C", "None"}, DataDigest: []string{"CRC32C", "None"}},
			check: func(t *testing.T, p Params) {
				require.False(t, p.HeaderDigest)
				require.False(t, p.DataDigest)
			}},
		{name: "ForceInitialR2T", target: iscsitest.Config{ForceInitialR2T: true},
			check: func(t *testing.T, p Params) {
				require.True(t, p.InitialR2T)
				require.True(t, p.ImmediateData)
			}},
		{name: "target without immediate data", target: iscsitest.Config{NoImmediateData: true},
			check: func(t *testing.T, p Params) {
				require.False(t, p.InitialR2T)
				require.False(t, p.ImmediateData)
			}},
		{name: "InitialR2T=Yes ImmediateData=No", neg: Negotiation{InitialR2T: ProposeYes, ImmediateData: ProposeNo},
			check: func(t *testing.T, p Params) {
				require.True(t, p.InitialR2T)
				require.False(t, p.ImmediateData)
			}},
		{name: "small segments", target: iscsitest.Config{MaxRecvDataSegmentLength: 1024},
			neg: Negotiation{MaxRecvDataSegmentLength: 4096},
			check: func(t *testing.T, p Params) {
				require.Equal(t, 4096, p.MaxRecvDataSegmentLength)
				require.Equal(t, 1024, p.TargetMaxRecvDataSegmentLength)
			}},
		{name: "bursts", target: iscsitest.Config{MaxOutstandingR2T: 8, FirstBurstLength: 1 << 20, MaxBurstLength: 1 << 20},
			neg: Negotiation{MaxBurstLength: 65536, FirstBurstLength: 16384, MaxOutstandingR2T: 4},
			check: func(t *testing.T, p Params) {
				require.Equal(t, 65536, p.MaxBurstLength)
				require.Equal(t, 16384, p.FirstBurstLength)
				require.Equal(t, 4, p.MaxOutstandingR2T)
			}},
		{name: "Time2Wait", neg: Negotiation{DefaultTime2Wait: 7, DefaultTime2Retain: 3},
			check: func(t *testing.T, p Params) {
				require.Equal(t, 7, p.DefaultTime2Wait)
				require.Equal(t, 3, p.DefaultTime2Retain)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.target)
			s := f.dial(t, func(c *Config) { c.Negotiation = tc.neg })
			p := s.Params()
			tc.check(t, p)
			tp := f.conn(t).Params()
			require.Equal(t, tp.HeaderDigest, p.HeaderDigest)
			require.Equal(t, tp.DataDigest, p.DataDigest)
			require.Equal(t, tp.InitialR2T, p.InitialR2T)
			require.Equal(t, tp.ImmediateData, p.ImmediateData)
			require.Equal(t, tp.MaxBurstLength, p.MaxBurstLength)
			require.Equal(t, tp.FirstBurstLength, p.FirstBurstLength)
			require.Equal(t, tp.MaxOutstandingR2T, p.MaxOutstandingR2T)
			require.Equal(t, tp.InitiatorMaxRecvDataSegmentLength, p.MaxRecvDataSegmentLength)
			require.Equal(t, tp.TargetMaxRecvDataSegmentLength, p.TargetMaxRecvDataSegmentLength)
			require.Equal(t, tp.DefaultTime2Wait, p.DefaultTime2Wait)

			const size = 300 << 10 // over every burst and segment limit
			want := pattern(size, 0x5a)
			ctx := ctxT(t)
			require.NoError(t, s.Do(ctx, writeCmd(64, want)))
			require.Equal(t, want, f.atTarget(t, 64*fakeBlockSize, size))
			got := make([]byte, size)
			require.NoError(t, s.Do(ctx, readCmd(64, got)))
			require.Equal(t, want, got)
		})
	}
}

// Digests we require and the target refuses fail the login.
func TestLoginDigestRefused(t *testing.T) {
	f := newFake(t, iscsitest.Config{Digests: []string{"None"}})
	cfg := f.cfg()
	cfg.Negotiation.HeaderDigest = []string{"CRC32C"}
	_, err := Dial(context.Background(), cfg)
	var le *LoginError
	require.ErrorAs(t, err, &le)
	require.Contains(t, err.Error(), "HeaderDigest")
}
