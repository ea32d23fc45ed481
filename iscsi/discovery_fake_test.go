package iscsi

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// SendTargets answers longer than our MaxRecvDataSegmentLength come in
// several Text Responses (C bit and a TTT); every portal of the target is
// listed with its group tag.
func TestDiscover(t *testing.T) {
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("10.0.%d.%d:3260", i/10, i))
	}
	many = append(many, "[fd00::1]:3261", "[fd00::2]:3260")
	cases := []struct {
		name    string
		portals []string
		mrdsl   int  // our MaxRecvDataSegmentLength
		chap    bool // the target requires CHAP for discovery too
		split   bool // the answer needs more than one Text Response
	}{
		{name: "one portal", portals: []string{"192.0.2.1:3260"}},
		{name: "two portals", portals: []string{"192.0.2.1:3260", "192.0.2.2:3260"}},
		{name: "long list split", portals: many, mrdsl: 512, split: true},
		{name: "long list in one PDU", portals: many},
		{name: "CHAP", portals: []string{"192.0.2.1:3260"}, chap: true},
		{name: "no portals listed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tcfg := iscsitest.Config{Portals: tc.portals, PortGroup: 3}
			if tc.chap {
				tcfg.CHAP = &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret}
			}
			f := newFake(t, tcfg)
			cfg := f.cfg()
			cfg.TargetName = "ignored"
			cfg.Negotiation.MaxRecvDataSegmentLength = tc.mrdsl
			if tc.chap {
				cfg.CHAP = &CHAP{User: chapUser, Secret: Secret(chapSecret)}
			}
			got, err := Discover(ctxT(t), cfg)
			require.NoError(t, err)

			want := DiscoveredTarget{Name: f.tg.Name()}
			for _, p := range tc.portals {
				want.Portals = append(want.Portals, TargetPortal{Addr: p, TPGT: 3})
			}
			if len(tc.portals) == 0 {
				want.Portals = []TargetPortal{{Addr: fakePortal, TPGT: -1}}
			}
			require.Equal(t, []DiscoveredTarget{want}, got)

			c := f.conn(t)
			<-c.Done()
			st := c.Stats()
			require.Equal(t, "Discovery", c.Params().SessionType)
			require.Equal(t, st.Received[pdu.OpTextReq], st.Sent[pdu.OpTextResp])
			if tc.split {
				require.Greater(t, st.Sent[pdu.OpTextResp], 3)
			} else {
				require.Equal(t, 1, st.Sent[pdu.OpTextResp])
			}
			require.Equal(t, 1, st.Received[pdu.OpLogoutReq], "discovery ends with a logout")
		})
	}
	requireNoGoroutines(t)
}

func TestDiscoverFailures(t *testing.T) {
	t.Run("wrong secret", func(t *testing.T) {
		f := newFake(t, iscsitest.Config{CHAP: &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret}})
		cfg := f.cfg()
		cfg.CHAP = &CHAP{User: chapUser, Secret: Secret("not-the-secret")}
		_, err := Discover(ctxT(t), cfg)
		var le *LoginError
		require.ErrorAs(t, err, &le)
		require.Equal(t, pdu.LoginAuthenticationFailure, le.Status)
	})
	t.Run("connection reset during SendTargets", func(t *testing.T) {
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if _, ok := p.(*pdu.TextRequest); ok {
				return iscsitest.Reset
			}
			return iscsitest.Continue
		}}})
		_, err := Discover(context.Background(), f.cfg())
		require.ErrorIs(t, err, ErrConnection)
	})
	t.Run("refused", func(t *testing.T) {
		n := newFakeNet(t)
		_, err := Discover(context.Background(), n.config("nowhere:3260", ""))
		require.ErrorIs(t, err, ErrConnection)
	})
}
