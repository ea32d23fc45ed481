package nbd

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// Option size limits. Option data up to maxOptionData is read into a
// per-connection buffer; up to maxOptionDiscard it is skipped and the option
// fails with NBD_REP_ERR_TOO_BIG; beyond that, or an oversized
// NBD_OPT_EXPORT_NAME (which cannot fail softly), the connection is closed.
const (
	maxOptionData    = 8 << 10
	maxOptionDiscard = 1 << 20
	maxStringLen     = 4096 // proto.md "Conventions"
)

// handshake is the server side of fixed-newstyle option haggling (proto.md
// "Fixed newstyle negotiation"). It reads and writes through rw only, so it
// can be driven by a fuzzer.
type handshake struct {
	s          *Server
	rw         io.ReadWriter // conn, or the TLS connection over it after STARTTLS
	conn       net.Conn      // the socket, for STARTTLS; nil when driven by a byte script
	tlsConn    *tls.Conn     // set once NBD_OPT_STARTTLS succeeded
	peer       string
	stopping   *atomic.Bool // the server is shutting down
	noZeroes   bool
	structured bool
	hdr        [optionHeaderLen]byte
	data       [maxOptionData]byte
	out        []byte // replies queued for one write
}

// negotiate runs the handshake on conn under the handshake timeout. It returns
// the export to serve, or nil and nil if the client aborted.
func (s *Server) negotiate(conn net.Conn, tc *trackedConn) (*exportState, error) {
	if d := s.handshakeTimeout(); d > 0 {
		conn.SetDeadline(time.Now().Add(d))
	}
	h := &handshake{s: s, rw: conn, conn: conn, peer: peerName(conn), stopping: &tc.stopping}
	exp, err := h.run()
	if h.tlsConn != nil {
		tc.tls = newTLSConn(h.tlsConn)
	}
	if err != nil {
		if tc.stopping.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, ErrServerClosed
		}
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	if exp != nil && tc.stopping.Load() {
		return nil, ErrServerClosed
	}
	return exp, nil
}

// run greets the client and handles options until one enters transmission
// (the export is returned) or the client aborts (nil, nil).
func (h *handshake) run() (*exportState, error) {
	if err := h.greet(); err != nil {
		return nil, err
	}
	for {
		oh, data, tooBig, err := h.readOption()
		if err != nil {
			return nil, err
		}
		exp, done, err := h.handle(oh.Option, data, tooBig)
		if err == nil {
			err = h.flush()
		}
		if err != nil || done {
			return exp, err
		}
	}
}

// greet sends NBDMAGIC, IHAVEOPT and the handshake flags, and reads the
// client flags.
func (h *handshake) greet() error {
	b := binary.BigEndian.AppendUint64(h.out[:0], MagicInitPasswd)
	b = binary.BigEndian.AppendUint64(b, MagicOption)
	h.out = binary.BigEndian.AppendUint16(b, uint16(HandshakeFixedNewstyle|HandshakeNoZeroes))
	if err := h.flush(); err != nil {
		return err
	}
	var cf [4]byte
	if _, err := io.ReadFull(h.rw, cf[:]); err != nil {
		return h.ioError("reading client flags", err)
	}
	flags := ClientFlags(binary.BigEndian.Uint32(cf[:]))
	if flags&^(ClientFixedNewstyle|ClientNoZeroes) != 0 {
		return protocolError(h.peer, "unknown client flags %s", flags)
	}
	h.noZeroes = flags&ClientNoZeroes != 0
	return nil
}

// readOption reads one option. Data too large to keep is skipped (tooBig);
// data too large to skip is a protocol error.
func (h *handshake) readOption() (oh optionHeader, data []byte, tooBig bool, err error) {
	if _, err = io.ReadFull(h.rw, h.hdr[:]); err != nil {
		return oh, nil, false, h.ioError("reading option", err)
	}
	if oh, err = parseOptionHeader(h.hdr[:]); err != nil {
		return oh, nil, false, connError(h.peer, err)
	}
	if oh.Length <= maxOptionData {
		data = h.data[:oh.Length]
		if _, err = io.ReadFull(h.rw, data); err != nil {
			return oh, nil, false, h.ioError("reading option data", err)
		}
		return oh, data, false, nil
	}
	if oh.Length > maxOptionDiscard || oh.Option == OptExportName {
		return oh, nil, false, protocolError(h.peer, "option %s with %d bytes of data", oh.Option, oh.Length)
	}
	if _, err = io.CopyN(io.Discard, h.rw, int64(oh.Length)); err != nil {
		return oh, nil, false, h.ioError("skipping option data", err)
	}
	return oh, nil, true, nil
}

func (h *handshake) ioError(what string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return connErrorf(h.peer, "handshake: %s: %w", what, err)
}

// handle answers one option. done is true when haggling is over: with an
// export for transmission, or nil after NBD_OPT_ABORT.
func (h *handshake) handle(opt Option, data []byte, tooBig bool) (*exportState, bool, error) {
	switch {
	case opt == OptAbort:
		// The client may close without reading the ACK (proto.md
		// "NBD_OPT_ABORT"): a failed write is no error.
		h.reply(opt, RepAck)
		h.flush()
		return nil, true, nil
	case h.stopping != nil && h.stopping.Load():
		h.fail(opt, RepErrShutdown, "server is shutting down")
		return nil, false, nil
	case opt == OptStartTLS:
		return nil, false, h.startTLS(data, tooBig)
	case h.tlsRequired():
		return h.refuseBeforeTLS(opt)
	case tooBig && h.known(opt):
		h.fail(opt, RepErrTooBig, "option data too long")
		return nil, false, nil
	case tooBig:
		h.fail(opt, RepErrUnsup, "option not supported")
		return nil, false, nil
	}
	switch opt {
	case OptExportName:
		return h.exportName(data)
	case OptList:
		h.list(data)
	case OptInfo, OptGo:
		exp := h.infoGo(opt, data)
		return exp, exp != nil && opt == OptGo, nil
	case OptStructuredReply:
		h.structuredReply(data)
	default:
		h.fail(opt, RepErrUnsup, "option %s not supported", opt)
	}
	return nil, false, nil
}

// known reports whether the server implements opt.
func (h *handshake) known(opt Option) bool {
	switch opt {
	case OptExportName, OptAbort, OptList, OptInfo, OptGo, OptStructuredReply, OptStartTLS:
		return true
	}
	return false
}

// reply queues an option reply.
func (h *handshake) reply(opt Option, typ OptionReply, data ...[]byte) {
	h.out = appendOptionReply(h.out, opt, typ, data...)
}

// fail queues an error reply with a message for humans.
func (h *handshake) fail(opt Option, typ OptionReply, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(msg) > maxStringLen {
		msg = msg[:maxStringLen]
	}
	h.reply(opt, typ, []byte(msg))
}

// flush writes the queued replies in one write.
func (h *handshake) flush() error {
	if len(h.out) == 0 {
		return nil
	}
	_, err := h.rw.Write(h.out)
	h.out = h.out[:0]
	if err != nil {
		return connErrorf(h.peer, "handshake: writing reply: %w", err)
	}
	return nil
}

// exportName handles NBD_OPT_EXPORT_NAME: an unknown export ends the session
// (the option has no error reply).
func (h *handshake) exportName(data []byte) (*exportState, bool, error) {
	e, ok := h.s.lookup(string(data))
	if !ok {
		return nil, true, connErrorf(h.peer, "NBD_OPT_EXPORT_NAME: no export %q", data)
	}
	exp := newExportState(e, h.s.RequestLimit(), h.structured)
	h.out = binary.BigEndian.AppendUint64(h.out, exp.size)
	h.out = binary.BigEndian.AppendUint16(h.out, uint16(exp.flags))
	if !h.noZeroes {
		h.out = append(h.out, make([]byte, 124)...)
	}
	return exp, true, h.flush()
}

// list handles NBD_OPT_LIST: one NBD_REP_SERVER per export, then ACK.
func (h *handshake) list(data []byte) {
	if len(data) != 0 {
		h.fail(OptList, RepErrInvalid, "NBD_OPT_LIST takes no data")
		return
	}
	for _, e := range h.s.exports() {
		if e.Backend == nil {
			continue
		}
		name := binary.BigEndian.AppendUint32(nil, uint32(len(e.Name)))
		h.reply(OptList, RepServer, name, []byte(e.Name), []byte(e.Description))
	}
	h.reply(OptList, RepAck)
}

// structuredReply handles NBD_OPT_STRUCTURED_REPLY.
func (h *handshake) structuredReply(data []byte) {
	if len(data) != 0 {
		h.fail(OptStructuredReply, RepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data")
		return
	}
	h.structured = true
	h.reply(OptStructuredReply, RepAck)
}

// infoGo handles NBD_OPT_INFO and NBD_OPT_GO. It returns the export on
// success (the caller enters transmission for GO).
func (h *handshake) infoGo(opt Option, data []byte) *exportState {
	name, reqs, ok := parseInfoRequest(data)
	if !ok {
		h.fail(opt, RepErrInvalid, "malformed %s request", opt)
		return nil
	}
	e, found := h.s.lookup(name)
	if !found {
		h.fail(opt, RepErrUnknown, "no export %q", name)
		return nil
	}
	exp := newExportState(e, h.s.RequestLimit(), h.structured)
	h.queueInfo(opt, exp, reqs)
	h.reply(opt, RepAck)
	return exp
}

// queueInfo queues NBD_REP_INFO replies: EXPORT and BLOCK_SIZE always, NAME
// and DESCRIPTION when asked for.
func (h *handshake) queueInfo(opt Option, exp *exportState, reqs []InfoType) {
	var b [14]byte
	binary.BigEndian.PutUint16(b[0:], uint16(InfoExport))
	binary.BigEndian.PutUint64(b[2:], exp.size)
	binary.BigEndian.PutUint16(b[10:], uint16(exp.flags))
	h.reply(opt, RepInfo, b[:12])
	if slices.Contains(reqs, InfoName) {
		h.reply(opt, RepInfo, []byte{0, byte(InfoName)}, []byte(exp.name))
	}
	if slices.Contains(reqs, InfoDescription) && exp.description != "" {
		h.reply(opt, RepInfo, []byte{0, byte(InfoDescription)}, []byte(exp.description))
	}
	binary.BigEndian.PutUint16(b[0:], uint16(InfoBlockSize))
	binary.BigEndian.PutUint32(b[2:], exp.minBlock)
	binary.BigEndian.PutUint32(b[6:], exp.prefBlock)
	binary.BigEndian.PutUint32(b[10:], exp.maxPayload)
	h.reply(opt, RepInfo, b[:14])
}

// parseInfoRequest decodes NBD_OPT_INFO/GO data: 32-bit name length, name,
// 16-bit request count, 16-bit information types.
func parseInfoRequest(data []byte) (name string, reqs []InfoType, ok bool) {
	if len(data) < 6 {
		return "", nil, false
	}
	n := binary.BigEndian.Uint32(data[0:4])
	if uint64(n) > uint64(len(data)-6) {
		return "", nil, false
	}
	name, rest := string(data[4:4+n]), data[4+n:]
	count := int(binary.BigEndian.Uint16(rest[0:2]))
	rest = rest[2:]
	if len(rest) != 2*count {
		return "", nil, false
	}
	for i := range count {
		reqs = append(reqs, InfoType(binary.BigEndian.Uint16(rest[2*i:])))
	}
	return name, reqs, true
}
