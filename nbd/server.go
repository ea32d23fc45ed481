package nbd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Server options.
const (
	DefaultMaxInFlight      = 64
	DefaultMaxRequest       = 32 << 20
	DefaultMaxInFlightBytes = 128 << 20
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultMaxConns bounds the connections Serve serves at once.
	DefaultMaxConns = 64
	// DefaultMaxTotalInFlightBytes bounds the payload bytes buffered by
	// all connections together.
	DefaultMaxTotalInFlightBytes = 512 << 20
	maxMaxRequest                = 1 << maxClassShift
)

// Server serves NBD exports. Its zero value has no export; set Backend (the
// default export) and/or Exports. Options must not change once serving
// starts. Serve, ServeConn, ServeTransmission and Shutdown may be called
// from any goroutines, many at once; the Server tracks every connection they
// serve for Shutdown. A Server must not be copied after first use.
type Server struct {
	// Backend, if set, is an export named ExportName ("" by default) with
	// Description, listed first. Clients asking for the empty name get the
	// first export.
	Backend     Backend
	ExportName  string
	Description string
	// Exports are further exports.
	Exports []Export

	// Logger receives connection-level events (client connected, protocol
	// violations, disconnects); nil discards them. Nothing is logged per
	// request.
	Logger *slog.Logger
	// MaxInFlight bounds the requests of one connection being served at
	// once (the worker count); the reader stops reading when it is reached.
	// Default DefaultMaxInFlight.
	MaxInFlight int
	// MaxRequest is the largest read or write payload (default 32 MiB, at
	// most 1 GiB). A larger write closes the connection; a larger read
	// fails with EINVAL (EOVERFLOW with structured replies).
	MaxRequest uint32
	// MaxInFlightBytes bounds the payload bytes buffered by one connection;
	// a request is always admitted when nothing else is in flight.
	// Default DefaultMaxInFlightBytes.
	MaxInFlightBytes int64
	// HandshakeTimeout bounds option haggling (default 30s; negative: none).
	HandshakeTimeout time.Duration
	// MaxConns bounds the connections accepted by Serve and served at
	// once (default DefaultMaxConns); a connection beyond it is closed at
	// once and logged. ServeConn and ServeTransmission are not counted.
	MaxConns int
	// MaxTotalInFlightBytes bounds the payload bytes buffered by all
	// connections together (default DefaultMaxTotalInFlightBytes, at
	// least MaxRequest): a connection whose request would pass it waits
	// until others release theirs, so that many clients cannot exhaust
	// memory (each connection alone may hold MaxInFlightBytes).
	MaxTotalInFlightBytes int64
	// TLS is the TLS policy of ServeConn (and Serve): TLSOff (the zero
	// value), TLSOn or TLSRequire; see TLSMode. ServeTransmission never
	// uses TLS.
	TLS TLSMode
	// TLSConfig is the server's X.509 configuration, needed by TLSOn and
	// TLSRequire: Certificates, and for client certificate checks
	// ClientAuth = tls.RequireAndVerifyClientCert with ClientCAs. With
	// TLSOff, a set TLSConfig makes NBD_OPT_STARTTLS fail with
	// NBD_REP_ERR_POLICY instead of NBD_REP_ERR_UNSUP. Go's crypto/tls has
	// no TLS-PSK, so there is no pre-shared key mode.
	TLSConfig *tls.Config

	pool bufferPool
	mem  memBudget

	mu        sync.Mutex // guards the following
	listeners map[net.Listener]struct{}
	conns     map[*trackedConn]struct{}
	accepted  int // connections from Serve being served
	closing   bool
	drained   chan struct{} // closed when closing and conns is empty
}

// trackedConn is a connection known to Shutdown.
type trackedConn struct {
	nc       net.Conn
	tls      *tlsConn    // over nc after NBD_OPT_STARTTLS; set before transmission
	stopping atomic.Bool // graceful stop requested: read nothing more
}

// stop asks the connection to finish what it has in flight and close: the
// flag is set before the read deadline, so a reader that clears its deadline
// and then checks the flag cannot miss both.
func (t *trackedConn) stop() {
	t.stopping.Store(true)
	if t.nc.SetReadDeadline(time.Now()) != nil {
		t.nc.Close()
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) maxInFlight() int {
	if s.MaxInFlight <= 0 {
		return DefaultMaxInFlight
	}
	return s.MaxInFlight
}

// RequestLimit returns the largest read or write payload s accepts:
// MaxRequest, DefaultMaxRequest when that is zero, capped at 1 GiB. Kernel
// attach code caps the kernel's request size with it.
func (s *Server) RequestLimit() uint32 {
	switch {
	case s.MaxRequest == 0:
		return DefaultMaxRequest
	case s.MaxRequest > maxMaxRequest:
		return maxMaxRequest
	}
	return s.MaxRequest
}

func (s *Server) maxInFlightBytes() int64 {
	if s.MaxInFlightBytes <= 0 {
		return DefaultMaxInFlightBytes
	}
	return s.MaxInFlightBytes
}

func (s *Server) maxConns() int {
	if s.MaxConns <= 0 {
		return DefaultMaxConns
	}
	return s.MaxConns
}

func (s *Server) maxTotalInFlightBytes() int64 {
	n := s.MaxTotalInFlightBytes
	if n <= 0 {
		n = DefaultMaxTotalInFlightBytes
	}
	return max(n, int64(s.RequestLimit()))
}

func (s *Server) handshakeTimeout() time.Duration {
	if s.HandshakeTimeout == 0 {
		return DefaultHandshakeTimeout
	}
	return s.HandshakeTimeout
}

// exports returns every export, the Backend field's first.
func (s *Server) exports() []Export {
	if s.Backend == nil {
		return s.Exports
	}
	first := Export{Name: s.ExportName, Description: s.Description, Backend: s.Backend}
	return append([]Export{first}, s.Exports...)
}

// lookup finds an export by name; "" selects the first export.
func (s *Server) lookup(name string) (*Export, bool) {
	all := s.exports()
	for i := range all {
		if all[i].Name == name && all[i].Backend != nil {
			return &all[i], true
		}
	}
	if name == "" && len(all) > 0 && all[0].Backend != nil {
		return &all[0], true
	}
	return nil, false
}

// Serve accepts connections on ln and serves each in its own goroutine with
// ServeConn until ctx is done (it then closes ln and every connection and
// returns ctx.Err()) or Shutdown is called (it returns ErrServerClosed).
// Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.checkTLS(); err != nil {
		ln.Close()
		return err
	}
	if !s.addListener(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.removeListener(ln)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if delay, err = s.acceptError(ctx, err, delay); err != nil {
				return err
			}
			continue
		}
		delay = 0
		if !s.admit() {
			s.logger().Warn("nbd: connection refused: too many connections", "peer", peerName(nc), "max", s.maxConns())
			nc.Close()
			continue
		}
		go func() {
			defer s.leave()
			_ = s.ServeConn(ctx, nc)
		}()
	}
}

// admit counts one more connection from Serve, unless MaxConns are served.
func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accepted >= s.maxConns() {
		return false
	}
	s.accepted++
	return true
}

// leave undoes admit.
func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted--
}

// memBudget counts the payload bytes buffered by every connection of a
// Server against MaxTotalInFlightBytes.
type memBudget struct {
	mu   sync.Mutex    // guards the following
	used int64         // bytes taken
	wake chan struct{} // closed by give when someone waits; nil otherwise
}

// tryTake takes n bytes if they fit under limit (or nothing is taken, so
// that any single request can run). Otherwise it returns a channel closed
// when bytes are given back.
func (b *memBudget) tryTake(n, limit int64) (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used == 0 || b.used+n <= limit {
		b.used += n
		return true, nil
	}
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return false, b.wake
}

// waiting reports whether a taker is waiting for bytes to be given back.
func (b *memBudget) waiting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wake != nil
}

// give returns n bytes and wakes the waiters.
func (b *memBudget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

// inUse returns the bytes taken.
func (b *memBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// acceptError decides whether Serve goes on after an Accept error (with a
// growing pause, for errors such as EMFILE) or returns.
func (s *Server) acceptError(ctx context.Context, err error, delay time.Duration) (time.Duration, error) {
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if s.isClosing() {
		return 0, ErrServerClosed
	}
	if errors.Is(err, net.ErrClosed) {
		return 0, err
	}
	delay = min(max(2*delay, 5*time.Millisecond), time.Second)
	s.logger().Warn("nbd: accept failed; retrying", "err", err, "delay", delay)
	time.Sleep(delay)
	return delay, nil
}

// logEnd logs how a connection ended: protocol violations as warnings (the
// connection was dropped, others go on), failures as info, the rest as debug.
func (s *Server) logEnd(peer string, err error) {
	switch {
	case err == nil:
		s.logger().Debug("nbd: client disconnected", "peer", peer)
	case errors.Is(err, ErrTLSRequired), errors.Is(err, ErrTLSHandshake):
		s.logger().Warn("nbd: connection refused: TLS", "peer", peer, "err", err)
	case errors.Is(err, ErrProtocol):
		s.logger().Warn("nbd: connection dropped: protocol violation", "peer", peer, "err", err)
	case errors.Is(err, ErrServerClosed), errors.Is(err, context.Canceled):
		s.logger().Debug("nbd: connection closed by the server", "peer", peer, "err", err)
	default:
		s.logger().Info("nbd: connection ended", "peer", peer, "err", err)
	}
}

// ServeConn runs the fixed-newstyle handshake on conn and then serves the
// chosen export until the client disconnects (nil error), breaks the protocol
// (a *ConnError wrapping ErrProtocol), the connection fails (a *ConnError),
// ctx is done (ctx.Err(): the connection is closed at once and backend calls
// in flight see a cancelled context), or Shutdown stops it (nil once requests
// in flight are answered). ServeConn takes ownership of conn and closes it;
// it logs how the connection ended on Server.Logger.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) (err error) {
	defer func() { s.logEnd(peerName(conn), err) }()
	if err := s.checkTLS(); err != nil {
		conn.Close()
		return err
	}
	tc, ok := s.track(conn)
	if !ok {
		conn.Close()
		return ErrServerClosed
	}
	defer s.untrack(tc)
	defer tc.closeConn()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	res, err := s.negotiate(conn, tc)
	if err != nil || res == nil {
		return err
	}
	return s.transmit(ctx, tc, res)
}

// ServeTransmission serves b on conn in the transmission phase only, with no
// handshake and simple replies only: the way the Linux kernel's nbd driver
// speaks on a socket handed to it by netlink or NBD_SET_SOCK (after being
// told the size and ExportFlags(b) out of band; package nbd/kernel does
// that). Otherwise as ServeConn.
func (s *Server) ServeTransmission(ctx context.Context, conn net.Conn, b Backend) (err error) {
	defer func() { s.logEnd(peerName(conn), err) }()
	tc, ok := s.track(conn)
	if !ok {
		conn.Close()
		return ErrServerClosed
	}
	defer s.untrack(tc)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	exp := newExportState(&Export{Backend: b}, s.RequestLimit(), false)
	return s.transmit(ctx, tc, exp)
}

// Shutdown stops the server gracefully: listeners are closed, connections in
// option haggling are closed, and connections in transmission stop reading
// new requests, answer every request already in flight, and close. Shutdown
// returns when all connections are gone, or when ctx is done (it then closes
// the remaining connections, cancelling their backend calls, and returns
// ctx.Err()). Serve returns ErrServerClosed afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	drained := s.beginShutdown()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		s.closeAll()
		return ctx.Err()
	}
}

func (s *Server) beginShutdown() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		s.drained = make(chan struct{})
		for ln := range s.listeners {
			ln.Close()
		}
		for tc := range s.conns {
			tc.stop()
		}
	}
	if len(s.conns) == 0 {
		closeOnce(s.drained)
	}
	return s.drained
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tc := range s.conns {
		tc.nc.Close()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) addListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) removeListener(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, ln)
}

func (s *Server) track(nc net.Conn) (*trackedConn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, false
	}
	if s.conns == nil {
		s.conns = make(map[*trackedConn]struct{})
	}
	tc := &trackedConn{nc: nc}
	s.conns[tc] = struct{}{}
	return tc, true
}

func (s *Server) untrack(tc *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, tc)
	if s.closing && len(s.conns) == 0 {
		closeOnce(s.drained)
	}
}

// peerName names the client for logs and errors.
// A unix socket client is usually unnamed, so its listener's path is used.
func peerName(nc net.Conn) string {
	for _, a := range []net.Addr{nc.RemoteAddr(), nc.LocalAddr()} {
		if a == nil {
			continue
		}
		if s := a.String(); s != "" && s != "@" && s != "<nil>" {
			return a.Network() + ":" + s
		}
	}
	return "conn"
}
