package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire sizes of the fixed-length messages.
const (
	RequestLen      = 28 // request header (proto.md "Request message")
	SimpleReplyLen  = 16 // simple reply header (proto.md "Simple reply message")
	ChunkHeaderLen  = 20 // structured reply chunk header
	optionHeaderLen = 16 // IHAVEOPT, option, length
	optReplyHdrLen  = 20 // reply magic, option, reply type, length
)

// errShort is returned by the parsers for a buffer shorter than the message.
var errShort = errors.New("nbd: message truncated")

// Request is a transmission request header. Write payloads follow it on the
// wire and are not part of it.
type Request struct {
	Flags  CommandFlags
	Type   Command
	Cookie uint64 // opaque; echoed in the reply (formerly "handle")
	Offset uint64
	Length uint32
}

// AppendBinary appends the 28-byte request header to b.
func (q Request) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, MagicRequest)
	b = binary.BigEndian.AppendUint16(b, uint16(q.Flags))
	b = binary.BigEndian.AppendUint16(b, uint16(q.Type))
	b = binary.BigEndian.AppendUint64(b, q.Cookie)
	b = binary.BigEndian.AppendUint64(b, q.Offset)
	return binary.BigEndian.AppendUint32(b, q.Length), nil
}

// ParseRequest decodes a request header from the first RequestLen bytes of b.
// A wrong magic is an ErrProtocol error; a short b is an error too.
func ParseRequest(b []byte) (Request, error) {
	if len(b) < RequestLen {
		return Request{}, errShort
	}
	if m := binary.BigEndian.Uint32(b[0:4]); m != MagicRequest {
		return Request{}, fmt.Errorf("%w: request magic %#08x", ErrProtocol, m)
	}
	return Request{
		Flags:  CommandFlags(binary.BigEndian.Uint16(b[4:6])),
		Type:   Command(binary.BigEndian.Uint16(b[6:8])),
		Cookie: binary.BigEndian.Uint64(b[8:16]),
		Offset: binary.BigEndian.Uint64(b[16:24]),
		Length: binary.BigEndian.Uint32(b[24:28]),
	}, nil
}

// SimpleReply is the header of a simple reply; a successful read's data
// follows it on the wire.
type SimpleReply struct {
	Errno  Errno
	Cookie uint64
}

// AppendBinary appends the 16-byte simple reply header to b.
func (r SimpleReply) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, MagicSimpleReply)
	b = binary.BigEndian.AppendUint32(b, uint32(r.Errno))
	return binary.BigEndian.AppendUint64(b, r.Cookie), nil
}

// ParseSimpleReply decodes a simple reply header.
func ParseSimpleReply(b []byte) (SimpleReply, error) {
	if len(b) < SimpleReplyLen {
		return SimpleReply{}, errShort
	}
	if m := binary.BigEndian.Uint32(b[0:4]); m != MagicSimpleReply {
		return SimpleReply{}, fmt.Errorf("%w: simple reply magic %#08x", ErrProtocol, m)
	}
	return SimpleReply{
		Errno:  Errno(binary.BigEndian.Uint32(b[4:8])),
		Cookie: binary.BigEndian.Uint64(b[8:16]),
	}, nil
}

// ChunkHeader is the header of a structured reply chunk; Length bytes of
// payload follow it.
type ChunkHeader struct {
	Flags  ReplyFlags
	Type   ChunkType
	Cookie uint64
	Length uint32
}

// AppendBinary appends the 20-byte chunk header to b.
func (h ChunkHeader) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, MagicStructuredReply)
	b = binary.BigEndian.AppendUint16(b, uint16(h.Flags))
	b = binary.BigEndian.AppendUint16(b, uint16(h.Type))
	b = binary.BigEndian.AppendUint64(b, h.Cookie)
	return binary.BigEndian.AppendUint32(b, h.Length), nil
}

// ParseChunkHeader decodes a structured reply chunk header.
func ParseChunkHeader(b []byte) (ChunkHeader, error) {
	if len(b) < ChunkHeaderLen {
		return ChunkHeader{}, errShort
	}
	if m := binary.BigEndian.Uint32(b[0:4]); m != MagicStructuredReply {
		return ChunkHeader{}, fmt.Errorf("%w: structured reply magic %#08x", ErrProtocol, m)
	}
	return ChunkHeader{
		Flags:  ReplyFlags(binary.BigEndian.Uint16(b[4:6])),
		Type:   ChunkType(binary.BigEndian.Uint16(b[6:8])),
		Cookie: binary.BigEndian.Uint64(b[8:16]),
		Length: binary.BigEndian.Uint32(b[16:20]),
	}, nil
}

// appendOffsetData appends an OFFSET_DATA chunk header and its 8-byte offset
// for n data bytes; the data itself goes out as a separate buffer.
func appendOffsetData(b []byte, flags ReplyFlags, cookie, off uint64, n uint32) []byte {
	b, _ = ChunkHeader{Flags: flags, Type: ChunkOffsetData, Cookie: cookie, Length: 8 + n}.AppendBinary(b)
	return binary.BigEndian.AppendUint64(b, off)
}

// appendErrorChunk appends an ERROR chunk header and its fixed fields for a
// message of msgLen bytes (sent as a separate buffer).
func appendErrorChunk(b []byte, cookie uint64, e Errno, msgLen int) []byte {
	b, _ = ChunkHeader{Flags: ReplyFlagDone, Type: ChunkError, Cookie: cookie, Length: 6 + uint32(msgLen)}.AppendBinary(b)
	b = binary.BigEndian.AppendUint32(b, uint32(e))
	return binary.BigEndian.AppendUint16(b, uint16(msgLen))
}

// optionHeader is an option as the client sends it during option haggling.
type optionHeader struct {
	Option Option
	Length uint32
}

// parseOptionHeader decodes the 16-byte option header.
func parseOptionHeader(b []byte) (optionHeader, error) {
	if len(b) < optionHeaderLen {
		return optionHeader{}, errShort
	}
	if m := binary.BigEndian.Uint64(b[0:8]); m != MagicOption {
		return optionHeader{}, fmt.Errorf("%w: option magic %#016x", ErrProtocol, m)
	}
	return optionHeader{
		Option: Option(binary.BigEndian.Uint32(b[8:12])),
		Length: binary.BigEndian.Uint32(b[12:16]),
	}, nil
}

// appendOptionReply appends a fixed-newstyle option reply with its data.
func appendOptionReply(b []byte, opt Option, typ OptionReply, data ...[]byte) []byte {
	n := 0
	for _, d := range data {
		n += len(d)
	}
	b = binary.BigEndian.AppendUint64(b, MagicOptionReply)
	b = binary.BigEndian.AppendUint32(b, uint32(opt))
	b = binary.BigEndian.AppendUint32(b, uint32(typ))
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}
