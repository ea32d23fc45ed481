package nbd

import "math/bits"

// Export is one named export of a Server.
type Export struct {
	Name        string // as the client asks for it; "" is allowed
	Description string // sent in NBD_OPT_LIST and NBD_INFO_DESCRIPTION
	Backend     Backend
}

// Default size constraints (proto.md "Size constraints").
const (
	defaultMinBlock  = 1
	defaultPrefBlock = 4096
	maxMinBlock      = 64 << 10
)

// exportState is an export resolved for one connection: the backend, its
// optional interfaces, and everything requests are checked against.
type exportState struct {
	name        string
	description string
	b           Backend
	fl          Flusher
	tr          Trimmer
	zr          Zeroer
	size        uint64
	flags       TransmissionFlags
	minBlock    uint32
	prefBlock   uint32
	maxPayload  uint32
	readOnly    bool
	structured  bool
}

// ExportFlags returns the transmission flags this package advertises for b on
// a connection without structured replies: HAS_FLAGS always, READ_ONLY,
// SEND_FLUSH and SEND_FUA (Flusher), SEND_TRIM (Trimmer), SEND_WRITE_ZEROES
// (Zeroer) and CAN_MULTI_CONN, each only when b can honour it (see
// Capable). Trim, zeroing and FUA are not advertised on a read-only export.
// Package nbd/kernel tells the kernel these flags and serves its sockets
// with ServeTransmission.
func ExportFlags(b Backend) TransmissionFlags {
	return capabilitiesOf(b).flags()
}

// capabilities is what a backend offers, resolved from its methods and its
// Capable answers.
type capabilities struct {
	flush, fua, trim, zero, multiConn, readOnly bool
}

// capabilitiesOf asks b's Capable methods, if it has them, and keeps only
// the operations b implements; trim, zeroing and FUA not when read-only.
func capabilitiesOf(b Backend) capabilities {
	c := capabilities{flush: true, fua: true, trim: true, zero: true}
	if cb, ok := b.(Capable); ok {
		c = capabilities{flush: cb.CanFlush(), fua: cb.CanFUA(), trim: cb.CanTrim(), zero: cb.CanZero(),
			multiConn: cb.CanMultiConn(), readOnly: cb.ReadOnly()}
	}
	_, fl := b.(Flusher)
	_, tr := b.(Trimmer)
	_, zr := b.(Zeroer)
	c.flush = c.flush && fl
	c.fua = c.fua && c.flush && !c.readOnly
	c.trim = c.trim && tr && !c.readOnly
	c.zero = c.zero && zr && !c.readOnly
	return c
}

// flags returns the transmission flags that advertise c.
func (c capabilities) flags() TransmissionFlags {
	return FlagHasFlags | flagIf(c.readOnly, FlagReadOnly) | flagIf(c.flush, FlagSendFlush) |
		flagIf(c.fua, FlagSendFUA) | flagIf(c.trim, FlagSendTrim) | flagIf(c.zero, FlagSendWriteZeroes) |
		flagIf(c.multiConn, FlagCanMultiConn)
}

func flagIf(on bool, f TransmissionFlags) TransmissionFlags {
	if on {
		return f
	}
	return 0
}

// newExportState resolves e for a connection. maxRequest is the server's cap
// on payloads; structured says whether structured replies were negotiated.
func newExportState(e *Export, maxRequest uint32, structured bool) *exportState {
	c := capabilitiesOf(e.Backend)
	st := &exportState{
		name: e.Name, description: e.Description, b: e.Backend,
		size: uint64(max(e.Backend.Size(), 0)), readOnly: c.readOnly,
		flags: c.flags(), structured: structured,
	}
	if !st.readOnly {
		st.tr, _ = e.Backend.(Trimmer)
		st.zr, _ = e.Backend.(Zeroer)
	}
	st.fl, _ = e.Backend.(Flusher)
	if structured {
		st.flags |= FlagSendDF // every read is answered with one data chunk
	}
	st.minBlock, st.prefBlock, st.maxPayload = blockSizes(e.Backend, maxRequest)
	return st
}

// blockSizes returns the backend's size constraints, validated per proto.md
// and capped by maxRequest, or the defaults.
func blockSizes(b Backend, maxRequest uint32) (minimum, preferred, maximum uint32) {
	minimum, preferred, maximum = defaultMinBlock, defaultPrefBlock, maxRequest
	bs, ok := b.(BlockSizer)
	if !ok {
		return
	}
	mn, pr, mx := bs.BlockSize()
	if !validBlockSizes(mn, pr, mx) {
		return
	}
	return mn, pr, min(mx, max(maxRequest, pr))
}

func validBlockSizes(mn, pr, mx uint32) bool {
	pow2 := func(v uint32) bool { return v != 0 && bits.OnesCount32(v) == 1 }
	return pow2(mn) && mn <= maxMinBlock && pow2(pr) && pr >= max(mn, 512) && mx >= pr
}

// aligned reports whether off and length are multiples of the minimum block.
func (e *exportState) aligned(off uint64, length uint32) bool {
	m := uint64(e.minBlock)
	return m <= 1 || (off%m == 0 && uint64(length)%m == 0)
}

// inRange reports whether [off, off+length) lies inside the export. A
// range past the size the client was told is checked again against the
// backend's size now: a device that grew since the handshake (a LUN
// resized, the kernel told the new size) serves its new blocks on the
// connections it already has.
func (e *exportState) inRange(off uint64, length uint32) bool {
	if off <= e.size && uint64(length) <= e.size-off {
		return true
	}
	size := uint64(max(e.b.Size(), 0))
	return off <= size && uint64(length) <= size-off
}
