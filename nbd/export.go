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
// (Zeroer) and CAN_MULTI_CONN, each only when b can honour it. Trim, zeroing
// and FUA are not advertised on a read-only export. Package nbd/kernel tells
// the kernel these flags and serves its sockets with ServeTransmission.
func ExportFlags(b Backend) TransmissionFlags {
	f := FlagHasFlags
	ro := isReadOnly(b)
	if ro {
		f |= FlagReadOnly
	}
	if _, ok := b.(Flusher); ok && can(b, "flush") {
		f |= FlagSendFlush
		if !ro && can(b, "fua") {
			f |= FlagSendFUA
		}
	}
	if _, ok := b.(Trimmer); ok && !ro && can(b, "trim") {
		f |= FlagSendTrim
	}
	if _, ok := b.(Zeroer); ok && !ro && can(b, "zero") {
		f |= FlagSendWriteZeroes
	}
	if m, ok := b.(MultiConner); ok && m.CanMultiConn() {
		f |= FlagCanMultiConn
	}
	return f
}

// Capability methods let a backend that has Flush, Trim or WriteZeroes
// methods say whether they work for the device behind it now (a LUN
// without UNMAP, say). A backend without the method is taken at its word.
type (
	// FlushCapable is implemented by a Flusher that can say whether flushing
	// works now; when CanFlush is false, ExportFlags advertises neither
	// SEND_FLUSH nor SEND_FUA.
	FlushCapable interface{ CanFlush() bool }
	// FUACapable is implemented by a Flusher that can say whether forced unit
	// access works now; when CanFUA is false, ExportFlags leaves SEND_FUA out.
	FUACapable interface{ CanFUA() bool }
	// TrimCapable is implemented by a Trimmer that can say whether trimming
	// works now; when CanTrim is false, ExportFlags leaves SEND_TRIM out.
	TrimCapable interface{ CanTrim() bool }
	// ZeroCapable is implemented by a Zeroer that can say whether WriteZeroes
	// works now; when CanZero is false, ExportFlags leaves SEND_WRITE_ZEROES
	// out.
	ZeroCapable interface{ CanZero() bool }
)

// can asks b's capability method for op, true when it has none.
func can(b Backend, op string) bool {
	switch op {
	case "flush":
		if c, ok := b.(FlushCapable); ok {
			return c.CanFlush()
		}
	case "fua":
		if c, ok := b.(FUACapable); ok {
			return c.CanFUA()
		}
	case "trim":
		if c, ok := b.(TrimCapable); ok {
			return c.CanTrim()
		}
	case "zero":
		if c, ok := b.(ZeroCapable); ok {
			return c.CanZero()
		}
	}
	return true
}

func isReadOnly(b Backend) bool {
	r, ok := b.(ReadOnlyer)
	return ok && r.ReadOnly()
}

// newExportState resolves e for a connection. maxRequest is the server's cap
// on payloads; structured says whether structured replies were negotiated.
func newExportState(e *Export, maxRequest uint32, structured bool) *exportState {
	st := &exportState{
		name: e.Name, description: e.Description, b: e.Backend,
		size: uint64(max(e.Backend.Size(), 0)), readOnly: isReadOnly(e.Backend),
		flags: ExportFlags(e.Backend), structured: structured,
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

// inRange reports whether [off, off+length) lies inside the export.
func (e *exportState) inRange(off uint64, length uint32) bool {
	return off <= e.size && uint64(length) <= e.size-off
}
