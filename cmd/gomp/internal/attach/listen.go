package attach

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/unixsock"
	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/nbd"
)

// listenNBD opens an NBD listener for unix:PATH or tcp:HOST:PORT.
func listenNBD(spec, name string, srv *nbd.Server, log *slog.Logger) (net.Listener, string, error) {
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		ln, err := unixsock.Listen(path, log)
		if err != nil {
			return nil, "", fmt.Errorf("--listen %s: %w", spec, err)
		}
		return ln, uriScheme(srv, true) + ":///" + name + "?socket=" + safename.Text(path), nil
	}
	addr := strings.TrimPrefix(spec, "tcp:")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--listen %s: %w", spec, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	warnTCP(log, addr, isLoopback(host), srv)
	return ln, uriScheme(srv, false) + "://" + ln.Addr().String() + "/" + name, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// uriScheme is the NBD URI scheme clients must use: nbds when TLS is
// required (libnbd's spelling), else nbd.
func uriScheme(srv *nbd.Server, unix bool) string {
	s := "nbd"
	if srv.TLS == nbd.TLSRequire {
		s = "nbds"
	}
	if unix {
		s += "+unix"
	}
	return s
}

// warnTCP says who can reach a TCP export, given its TLS policy.
func warnTCP(log *slog.Logger, addr string, loopback bool, srv *nbd.Server) {
	verified := srv.TLSConfig != nil && srv.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert
	switch {
	case srv.TLS == nbd.TLSOff && !loopback:
		log.Warn("NBD listening beyond loopback without TLS: anyone who reaches this address can read and write the device, and its data crosses the network in clear; use --tls require --tls-certificates DIR --tls-verify-peer",
			"listen", addr)
	case srv.TLS == nbd.TLSOff:
		log.Warn("NBD on loopback TCP: every local user can read and write the device; --listen unix:PATH (mode 0600) keeps it to this user",
			"listen", addr)
	case srv.TLS == nbd.TLSOn:
		log.Warn("NBD TLS is optional (--tls on): clients that do not ask for TLS are served in plain text; --tls require refuses them",
			"listen", addr)
	}
	if srv.TLS != nbd.TLSOff && !verified {
		log.Warn("NBD TLS without --tls-verify-peer encrypts but does not authenticate: any client that reaches this address can read and write the device",
			"listen", addr)
	}
}
