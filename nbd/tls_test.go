package nbd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/internal/tlstest"
	"github.com/stretchr/testify/require"
)

// certDir writes a fresh CA, server and client certificate into a temp dir.
func certDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	require.NoError(t, tlstest.Write(dir))
	return dir
}

// tlsServer is testServer with a TLS policy and dir's server certificate.
func tlsServer(t testing.TB, mode TLSMode, dir string, verifyPeer bool) *Server {
	t.Helper()
	cfg, err := tlstest.ServerConfig(dir, verifyPeer)
	require.NoError(t, err)
	srv := testServer()
	srv.TLS, srv.TLSConfig = mode, cfg
	return srv
}

// startTLS asks for NBD_OPT_STARTTLS, expects the ACK and runs the client
// side of the TLS handshake with dir's CA and client certificate.
func (rc *rawClient) startTLS(dir string) error {
	rc.t.Helper()
	rc.option(OptStartTLS, nil)
	require.Equal(rc.t, optReply{OptStartTLS, RepAck, []byte{}}, rc.optReply())
	cfg, err := tlstest.ClientConfig(dir)
	require.NoError(rc.t, err)
	tc := tls.Client(rc.c, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	rc.c = tc
	return nil
}

// expectReply sends opt and checks the reply type.
func (rc *rawClient) expectReply(opt Option, data []byte, want OptionReply) {
	rc.t.Helper()
	rc.option(opt, data)
	r := rc.optReply()
	require.Equal(rc.t, opt, r.opt)
	require.Equal(rc.t, want, r.typ, "%s: %q", opt, r.data)
}

// TestTLSRequireRefusesBeforeUpgrade: under TLSRequire every option but
// STARTTLS and ABORT gets ERR_TLS_REQD (the export list stays hidden);
// STARTTLS with data is invalid; after the upgrade the session works and a
// second STARTTLS is invalid.
func TestTLSRequireRefusesBeforeUpgrade(t *testing.T) {
	dir := certDir(t)
	rc := dialRaw(t, startServer(t, tlsServer(t, TLSRequire, dir, true)))
	rc.greet(ClientFixedNewstyle | ClientNoZeroes)
	for _, opt := range []Option{OptList, OptStructuredReply, OptSetMetaContext, Option(0x7fff)} {
		rc.expectReply(opt, nil, RepErrTLSReqd)
	}
	rc.expectReply(OptInfo, infoData("disk"), RepErrTLSReqd)
	rc.expectReply(OptGo, infoData("disk"), RepErrTLSReqd)
	rc.expectReply(OptInfo, make([]byte, maxOptionData+1), RepErrTLSReqd) // skipped data too
	rc.expectReply(OptStartTLS, []byte("x"), RepErrInvalid)
	require.NoError(t, rc.startTLS(dir))

	rc.expectReply(OptStartTLS, nil, RepErrInvalid) // TLS already runs
	rc.option(OptList, nil)
	require.Equal(t, RepServer, rc.optReply().typ)
	require.Equal(t, RepServer, rc.optReply().typ)
	require.Equal(t, RepAck, rc.optReply().typ)
	readWriteOverTLS(t, rc)
}

// readWriteOverTLS enters transmission and moves more than a TLS record.
func readWriteOverTLS(t *testing.T, rc *rawClient) {
	rc.option(OptGo, infoData("disk"))
	for rc.optReply().typ != RepAck {
	}
	data := pattern(200<<10, 3)
	rc.request(Request{Type: CmdWrite, Cookie: 1, Offset: 4096, Length: uint32(len(data))}, data)
	r, _ := rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 1}, r)
	for cookie := uint64(2); cookie < 6; cookie++ { // several replies in one batch
		rc.request(Request{Type: CmdRead, Cookie: cookie, Offset: 4096, Length: uint32(len(data))}, nil)
	}
	seen := map[uint64]bool{}
	for range 4 { // replies come in any order
		r, got := rc.simple(len(data))
		require.Zero(t, r.Errno)
		require.True(t, r.Cookie >= 2 && r.Cookie < 6 && !seen[r.Cookie], "cookie %d", r.Cookie)
		seen[r.Cookie] = true
		require.True(t, bytes.Equal(data, got))
	}
	require.Len(t, seen, 4)
	rc.disc()
}

// TestTLSRequireExportNameCloses: NBD_OPT_EXPORT_NAME cannot fail softly,
// so before TLS it ends the session without a byte about the export.
func TestTLSRequireExportNameCloses(t *testing.T) {
	var logs syncBuffer
	srv := tlsServer(t, TLSRequire, certDir(t), false)
	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	rc := dialRaw(t, startServer(t, srv))
	rc.greet(ClientFixedNewstyle)
	rc.option(OptExportName, []byte("disk"))
	rest, err := io.ReadAll(rc.c)
	require.NoError(t, err)
	require.Empty(t, rest, "nothing about the export is sent")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "NBD_OPT_EXPORT_NAME before NBD_OPT_STARTTLS") },
		5*time.Second, time.Millisecond)
	require.Contains(t, logs.String(), "level=WARN")
}

// TestTLSStartTLSResetsOptions: options agreed before STARTTLS do not
// survive it (CVE-2021-3716 in nbdkit): structured replies asked in plain
// text are off inside TLS.
func TestTLSStartTLSResetsOptions(t *testing.T) {
	dir := certDir(t)
	rc := dialRaw(t, startServer(t, tlsServer(t, TLSOn, dir, false)))
	rc.greet(ClientFixedNewstyle | ClientNoZeroes)
	rc.expectReply(OptStructuredReply, nil, RepAck)
	require.NoError(t, rc.startTLS(dir))
	rc.option(OptGo, infoData("disk"))
	for rc.optReply().typ != RepAck {
	}
	rc.request(Request{Type: CmdRead, Cookie: 9, Length: 512}, nil)
	r, data := rc.simple(512) // a simple reply: structured replies were forgotten
	require.Equal(t, SimpleReply{Cookie: 9}, r)
	require.Len(t, data, 512)
	rc.disc()
}

// TestTLSOnServesPlainClients: with TLSOn a client may stay in plain text.
func TestTLSOnServesPlainClients(t *testing.T) {
	rc := dialRaw(t, startServer(t, tlsServer(t, TLSOn, certDir(t), false)))
	size, _ := rc.goExport("disk", true)
	require.EqualValues(t, 1<<20, size)
	rc.disc()
}

// TestTLSOffRefusesStartTLS: NOTLS answers ERR_POLICY when certificates
// are configured but TLS is off, ERR_UNSUP when there is no TLS at all,
// and haggling goes on.
func TestTLSOffRefusesStartTLS(t *testing.T) {
	for _, tc := range []struct {
		srv  *Server
		want OptionReply
	}{{tlsServer(t, TLSOff, certDir(t), false), RepErrPolicy}, {testServer(), RepErrUnsup}} {
		rc := dialRaw(t, startServer(t, tc.srv))
		rc.greet(ClientFixedNewstyle | ClientNoZeroes)
		rc.expectReply(OptStartTLS, nil, tc.want)
		rc.expectReply(OptStructuredReply, nil, RepAck)
		rc.expectReply(OptAbort, nil, RepAck)
	}
}

// TestTLSHandshakeFailures: a client that does not trust the server's CA,
// and a client whose certificate the server's CA did not sign, both end
// with a failed handshake and a closed connection.
func TestTLSHandshakeFailures(t *testing.T) {
	dir, other := certDir(t), certDir(t) // two unrelated CAs
	path := startServer(t, tlsServer(t, TLSRequire, dir, true))

	rc := dialRaw(t, path)
	rc.greet(ClientFixedNewstyle)
	var unknown x509UnknownAuthority
	require.ErrorAs(t, rc.startTLS(other), &unknown, "the client refuses a server signed by another CA")

	rc = dialRaw(t, path)
	rc.greet(ClientFixedNewstyle)
	cfg, err := tlstest.ClientConfig(other)
	require.NoError(t, err)
	cfg.RootCAs = mustClientConfig(t, dir).RootCAs // trusts the server, but its own cert is foreign
	rc.option(OptStartTLS, nil)
	require.Equal(t, RepAck, rc.optReply().typ)
	tc := tls.Client(rc.c, cfg)
	err = tc.Handshake()
	if err == nil { // TLS 1.3: the client learns of the refusal on its first read
		_, err = tc.Read(make([]byte, 1))
	}
	require.Error(t, err, "the server refuses a client certificate from another CA")
}

type x509UnknownAuthority = *tls.CertificateVerificationError

func mustClientConfig(t *testing.T, dir string) *tls.Config {
	cfg, err := tlstest.ClientConfig(dir)
	require.NoError(t, err)
	return cfg
}

// TestTLSNeedsConfig: Serve and ServeConn refuse a TLS policy without a
// certificate.
func TestTLSNeedsConfig(t *testing.T) {
	for _, srv := range []*Server{{TLS: TLSRequire}, {TLS: TLSOn, TLSConfig: &tls.Config{}}, {TLS: TLSMode(7)}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		require.Error(t, srv.Serve(context.Background(), ln))
		a, b := net.Pipe()
		require.Error(t, srv.ServeConn(context.Background(), a))
		b.Close()
	}
}

func TestParseTLSMode(t *testing.T) {
	for _, m := range []TLSMode{TLSOff, TLSOn, TLSRequire} {
		got, err := ParseTLSMode(m.String())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := ParseTLSMode("yes")
	require.Error(t, err)
	require.Equal(t, "TLSMode(9)", TLSMode(9).String())
}

// TestTLSErrorsAreTyped: the errors ending a connection can be told apart.
func TestTLSErrorsAreTyped(t *testing.T) {
	h := &handshake{s: &Server{TLS: TLSRequire}, peer: "test"}
	_, done, err := h.refuseBeforeTLS(OptExportName)
	require.True(t, done)
	require.ErrorIs(t, err, ErrTLSRequired)
	var ce *ConnError
	require.True(t, errors.As(err, &ce))
	require.Equal(t, "test", ce.Peer)
}

// TestTLSShutdownInTransmission: Shutdown stops a TLS connection in
// transmission gracefully (the read deadline reaches the socket under the
// TLS connection): the request in flight is answered, then the client
// sees the end of the stream.
func TestTLSShutdownInTransmission(t *testing.T) {
	dir := certDir(t)
	srv := tlsServer(t, TLSRequire, dir, false)
	rc := dialRaw(t, startServer(t, srv))
	rc.greet(ClientFixedNewstyle | ClientNoZeroes)
	require.NoError(t, rc.startTLS(dir))
	rc.option(OptGo, infoData("disk"))
	for rc.optReply().typ != RepAck {
	}
	rc.request(Request{Type: CmdRead, Cookie: 1, Length: 4096}, nil)
	r, _ := rc.simple(4096)
	require.Equal(t, SimpleReply{Cookie: 1}, r)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	rc.expectClosed()
}
