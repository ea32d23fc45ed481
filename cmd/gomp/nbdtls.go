package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/nbd"
)

// Files of a --tls-certificates directory, named as nbdkit and qemu-nbd
// name them.
const (
	tlsCACert     = "ca-cert.pem"
	tlsServerCert = "server-cert.pem"
	tlsServerKey  = "server-key.pem"
)

// tlsFlags are attach's TLS flags for the --listen sockets, spelled as
// nbdkit's.
type tlsFlags struct {
	mode       nbd.TLSMode
	certDir    string
	verifyPeer bool
}

func (t *tlsFlags) registerFlags(f *pflag.FlagSet) {
	f.Var(tlsModeValue{&t.mode}, "tls", "TLS on --listen sockets (NBD_OPT_STARTTLS, X.509): off, on (each client chooses) or require")
	f.StringVar(&t.certDir, "tls-certificates", "", "directory holding server-cert.pem, server-key.pem and ca-cert.pem (nbdkit's and qemu-nbd's layout)")
	f.BoolVar(&t.verifyPeer, "tls-verify-peer", false, "accept only clients whose certificate ca-cert.pem signed")
}

// tlsModeValue is --tls as a flag value: off, on or require.
type tlsModeValue struct{ m *nbd.TLSMode }

func (v tlsModeValue) String() string {
	if v.m == nil {
		return nbd.TLSOff.String()
	}
	return v.m.String()
}

func (v tlsModeValue) Set(s string) error {
	m, err := nbd.ParseTLSMode(s)
	if err != nil {
		return errors.New("want off, on or require")
	}
	*v.m = m
	return nil
}

func (v tlsModeValue) Type() string { return "off|on|require" }

// server returns the NBD server's TLS policy and configuration. Flags that
// make no sense together are usage errors; unreadable certificates name
// the file.
func (t *tlsFlags) server() (nbd.TLSMode, *tls.Config, error) {
	mode := t.mode
	switch {
	case mode == nbd.TLSOff:
		return mode, nil, nil
	case t.certDir == "":
		return mode, nil, usagef("--tls %s needs --tls-certificates DIR", mode)
	}
	cfg, err := loadServerTLS(t.certDir, t.verifyPeer)
	if err != nil {
		return mode, nil, fmt.Errorf("--tls-certificates %s: %w", t.certDir, err)
	}
	return mode, cfg, nil
}

// loadServerTLS reads DIR/server-cert.pem and DIR/server-key.pem, and
// with verifyPeer DIR/ca-cert.pem, which must then exist.
func loadServerTLS(dir string, verifyPeer bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, tlsServerCert), filepath.Join(dir, tlsServerKey))
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if !verifyPeer {
		return cfg, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, tlsCACert))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--tls-verify-peer needs %s: %w", tlsCACert, err)
	}
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", tlsCACert)
	}
	cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return cfg, nil
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
