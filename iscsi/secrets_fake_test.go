package iscsi

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
)

// secretForms returns the ways a secret could show up in text: as is, in
// hex (either case, with and without 0x), in base64, and as Go prints a
// byte slice.
func secretForms(secret string) []string {
	h := hex.EncodeToString([]byte(secret))
	return []string{secret, h, strings.ToUpper(h), "0x" + h, "0X" + strings.ToUpper(h),
		base64.StdEncoding.EncodeToString([]byte(secret)), fmt.Sprint([]byte(secret))}
}

// requireNoSecret fails if text holds any form of any secret.
func requireNoSecret(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, form := range secretForms(s) {
			require.NotContains(t, text, form, "a secret leaked (as %q)", form)
		}
	}
}

// CHAP and mutual CHAP logins, successful or failing on either side, and
// a CHAP discovery, with the initiator logging at Debug level: neither
// the log, nor the errors, nor the configuration printed every way fmt
// and slog can, hold a secret in any form.
func TestSecretsNeverLogged(t *testing.T) {
	const wrong = "wrong-secret-89ab"
	secrets := []string{chapSecret, chapTargetSecret, wrong}
	oneWay := func(secret string) *CHAP { return &CHAP{User: chapUser, Secret: Secret(secret)} }
	mutual := func(secret, targetSecret string) *CHAP {
		return &CHAP{User: chapUser, Secret: Secret(secret), TargetUser: chapTargetUser, TargetSecret: Secret(targetSecret)}
	}
	targetCHAP := &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret, MutualUser: chapTargetUser,
		MutualSecret: chapTargetSecret, Algorithms: []byte{5, 6, 7, 8}}
	cases := []struct {
		name      string
		chap      *CHAP
		discovery bool
		ok        bool
	}{
		{name: "one-way", chap: oneWay(chapSecret), ok: true},
		{name: "mutual", chap: mutual(chapSecret, chapTargetSecret), ok: true},
		{name: "MD5 only", chap: &CHAP{User: chapUser, Secret: Secret(chapSecret), Algorithms: []CHAPAlgorithm{CHAPMD5}}, ok: true},
		{name: "wrong secret", chap: oneWay(wrong)},
		{name: "mutual, target proves another secret", chap: mutual(chapSecret, wrong)},
		{name: "discovery", chap: oneWay(chapSecret), discovery: true, ok: true},
		{name: "discovery, wrong secret", chap: oneWay(wrong), discovery: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, iscsitest.Config{CHAP: targetCHAP})
			cfg := f.cfg()
			cfg.CHAP = tc.chap
			var err error
			if tc.discovery {
				_, err = Discover(ctxT(t), cfg)
			} else {
				var s *Session
				if s, err = Dial(context.Background(), cfg); err == nil {
					require.NoError(t, s.Ping(ctxT(t)))
					require.NoError(t, s.Close(context.Background()))
				}
			}
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
			// Everything a careless caller could print.
			cfg.Logger.Debug("config", "chap", cfg.CHAP, "cfg", cfg, "secret", cfg.CHAP.Secret)
			cfg.Logger.Error("login", "err", err)
			text := fmt.Sprintf("%v\n%+v\n%#v\n%s\n%x\n%q\n%v %+v %#v\n", err, err, err,
				cfg.CHAP.Secret, cfg.CHAP.Secret, cfg.CHAP.Secret, cfg, *cfg.CHAP, *cfg.CHAP)
			var js strings.Builder
			slog.New(slog.NewJSONHandler(&js, nil)).Info("json", "chap", cfg.CHAP, "cfg", cfg)
			log := f.log.String()
			if !tc.discovery || !tc.ok {
				require.Contains(t, log, "iscsi", "the initiator logged")
			}
			requireNoSecret(t, log+text+js.String(), secrets...)
		})
	}
}
