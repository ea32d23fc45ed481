package nbd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// TLSMode is a Server's TLS policy (proto.md "TLS support", "Server-side
// requirements").
type TLSMode int

// TLS policies.
const (
	// TLSOff is "NOTLS": NBD_OPT_STARTTLS fails with NBD_REP_ERR_POLICY
	// when the Server has a TLSConfig, NBD_REP_ERR_UNSUP otherwise.
	TLSOff TLSMode = iota
	// TLSOn offers TLS: a client may upgrade with NBD_OPT_STARTTLS or go on
	// in plain text, and every export is served either way (the
	// "SELECTIVETLS" mode with no TLS-only export).
	TLSOn
	// TLSRequire is "FORCEDTLS": before the upgrade every option but
	// NBD_OPT_STARTTLS and NBD_OPT_ABORT fails with NBD_REP_ERR_TLS_REQD
	// (so the export list stays hidden), and NBD_OPT_EXPORT_NAME, which
	// cannot fail softly, ends the session.
	TLSRequire
)

var tlsModeNames = []string{"off", "on", "require"}

// String returns "off", "on" or "require", the spelling of nbdkit's --tls.
func (m TLSMode) String() string {
	if m >= 0 && int(m) < len(tlsModeNames) {
		return tlsModeNames[m]
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// ParseTLSMode reads "off", "on" or "require".
func ParseTLSMode(s string) (TLSMode, error) {
	for i, name := range tlsModeNames {
		if s == name {
			return TLSMode(i), nil
		}
	}
	return TLSOff, fmt.Errorf("nbd: TLS mode %q: want off, on or require", s)
}

// TLS errors that end a connection, returned wrapped in a *ConnError.
var (
	// ErrTLSRequired: under TLSRequire, the client sent
	// NBD_OPT_EXPORT_NAME before NBD_OPT_STARTTLS.
	ErrTLSRequired = errors.New("nbd: TLS required")
	// ErrTLSHandshake: the TLS handshake after NBD_OPT_STARTTLS failed
	// (no common version or cipher, a client certificate missing or not
	// signed by the trusted CA, …).
	ErrTLSHandshake = errors.New("nbd: TLS handshake failed")
)

// checkTLS reports a TLS policy the Server cannot honour.
func (s *Server) checkTLS() error {
	switch {
	case s.TLS < TLSOff || s.TLS > TLSRequire:
		return fmt.Errorf("nbd: unknown %s", s.TLS)
	case s.TLS == TLSOff:
		return nil
	case s.TLSConfig == nil:
		return fmt.Errorf("nbd: TLS %s without a TLSConfig", s.TLS)
	case len(s.TLSConfig.Certificates) == 0 && s.TLSConfig.GetCertificate == nil &&
		s.TLSConfig.GetConfigForClient == nil:
		return fmt.Errorf("nbd: TLS %s without a server certificate", s.TLS)
	}
	return nil
}

// tlsRequired reports whether option haggling must refuse everything but
// STARTTLS and ABORT.
func (h *handshake) tlsRequired() bool {
	return h.s.TLS == TLSRequire && h.tlsConn == nil
}

// refuseBeforeTLS answers opt under TLSRequire before the upgrade: an error
// reply, or for NBD_OPT_EXPORT_NAME the end of the session (proto.md
// "FORCEDTLS mode").
func (h *handshake) refuseBeforeTLS(opt Option) (*exportState, bool, error) {
	if opt == OptExportName {
		return nil, true, connErrorf(h.peer, "%w: NBD_OPT_EXPORT_NAME before NBD_OPT_STARTTLS", ErrTLSRequired)
	}
	h.fail(opt, RepErrTLSReqd, "TLS is required: send NBD_OPT_STARTTLS first")
	return nil, false, nil
}

// startTLS handles NBD_OPT_STARTTLS (proto.md "NBD_OPT_STARTTLS"): with an
// ACK, then the TLS handshake on the same socket, after which haggling
// starts again over TLS with no option state kept.
func (h *handshake) startTLS(data []byte, tooBig bool) error {
	switch {
	case h.s.TLS == TLSOff && h.s.TLSConfig == nil:
		h.fail(OptStartTLS, RepErrUnsup, "option %s not supported: no TLS on this server", OptStartTLS)
	case len(data) != 0 || tooBig:
		h.fail(OptStartTLS, RepErrInvalid, "NBD_OPT_STARTTLS takes no data")
	case h.tlsConn != nil:
		h.fail(OptStartTLS, RepErrInvalid, "TLS is already running")
	case h.s.TLS == TLSOff:
		h.fail(OptStartTLS, RepErrPolicy, "TLS is off on this server")
	case h.conn == nil:
		h.fail(OptStartTLS, RepErrPlatform, "TLS is not available on this connection")
	default:
		return h.upgrade()
	}
	return nil
}

// upgrade acknowledges NBD_OPT_STARTTLS and runs the server side of the
// TLS handshake under the handshake deadline already set on the socket.
// A failed handshake ends the session: plain text cannot resume.
func (h *handshake) upgrade() error {
	h.reply(OptStartTLS, RepAck)
	if err := h.flush(); err != nil {
		return err
	}
	tc := tls.Server(h.conn, h.s.TLSConfig)
	if err := tc.Handshake(); err != nil {
		return connErrorf(h.peer, "%w: %w", ErrTLSHandshake, err)
	}
	h.tlsConn, h.rw = tc, tc
	h.structured = false // nothing negotiated before STARTTLS survives it
	st := tc.ConnectionState()
	h.s.logger().Debug("nbd: TLS established", "peer", h.peer, "version", tls.VersionName(st.Version),
		"cipher", tls.CipherSuiteName(st.CipherSuite), "client", clientSubject(st))
	return nil
}

// clientSubject names the verified client certificate, if any.
func clientSubject(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.String()
}

// tlsRecordSize is the most plaintext one TLS record carries.
const tlsRecordSize = 16 << 10

// tlsConn is a connection in transmission over TLS. Its WriteBuffers (used
// by rawio.WriteBuffers) gathers the small buffers of a batch of replies
// into records of up to 16 KiB, so that each reply header does not cost a
// record and a system call of its own; larger buffers go out as they are.
// A tls.Conn is an ordinary net.Conn: no raw socket I/O happens under TLS.
type tlsConn struct {
	*tls.Conn
	buf []byte
}

func newTLSConn(c *tls.Conn) *tlsConn {
	return &tlsConn{Conn: c, buf: make([]byte, 0, tlsRecordSize)}
}

// WriteBuffers writes every byte of bufs. It is called by one writer at a
// time (the txConn's write mutex).
func (c *tlsConn) WriteBuffers(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		if len(c.buf)+len(b) > tlsRecordSize {
			if err := c.flush(); err != nil {
				return n, err
			}
		}
		if len(b) >= tlsRecordSize {
			k, err := c.Conn.Write(b)
			n += int64(k)
			if err != nil {
				return n, err
			}
			continue
		}
		c.buf = append(c.buf, b...)
		n += int64(len(b))
	}
	return n, c.flush()
}

func (c *tlsConn) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// ioConn returns the connection transmission reads and writes: the TLS
// connection after NBD_OPT_STARTTLS, else the socket itself.
func (t *trackedConn) ioConn() net.Conn {
	if t.tls != nil {
		return t.tls
	}
	return t.nc
}

// closeConn closes the connection, after a TLS close_notify when TLS runs.
func (t *trackedConn) closeConn() error {
	if t.tls != nil {
		return t.tls.Close()
	}
	return t.nc.Close()
}
