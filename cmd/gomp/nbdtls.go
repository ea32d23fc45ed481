package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
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
