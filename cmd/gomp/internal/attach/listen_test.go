package attach

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/nbd"
)

// TestWarnTCP: each TCP exposure gets the warning that says what is open.
func TestWarnTCP(t *testing.T) {
	verified := &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}
	for _, tc := range []struct {
		srv      *nbd.Server
		loopback bool
		want     []string
	}{
		{&nbd.Server{}, false, []string{"beyond loopback without TLS", "in clear"}},
		{&nbd.Server{}, true, []string{"every local user"}},
		{&nbd.Server{TLS: nbd.TLSOn, TLSConfig: verified}, false, []string{"TLS is optional"}},
		{&nbd.Server{TLS: nbd.TLSRequire, TLSConfig: &tls.Config{}}, false, []string{"does not authenticate"}},
		{&nbd.Server{TLS: nbd.TLSRequire, TLSConfig: verified}, false, nil},
	} {
		var buf bytes.Buffer
		warnTCP(slog.New(slog.NewTextHandler(&buf, nil)), "192.0.2.1:10809", tc.loopback, tc.srv)
		for _, w := range tc.want {
			require.Contains(t, buf.String(), w)
		}
		if tc.want == nil {
			require.Empty(t, buf.String())
		}
	}
}
