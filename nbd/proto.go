package nbd

import (
	"fmt"
	"strings"
)

// Magic numbers (proto.md "Newstyle negotiation", "Request message", "Simple
// reply message", "Structured reply chunk message").
const (
	MagicInitPasswd      uint64 = 0x4e42444d41474943 // "NBDMAGIC", first word of the greeting
	MagicOption          uint64 = 0x49484156454f5054 // "IHAVEOPT", greeting and every option
	MagicOptionReply     uint64 = 0x0003e889045565a9 // every fixed-newstyle option reply
	MagicRequest         uint32 = 0x25609513         // every transmission request
	MagicSimpleReply     uint32 = 0x67446698         // simple reply
	MagicStructuredReply uint32 = 0x668e33ef         // structured reply chunk
)

// HandshakeFlags are the 16 flag bits the server sends in its greeting
// (proto.md "Handshake flags").
type HandshakeFlags uint16

// Handshake flags.
const (
	HandshakeFixedNewstyle HandshakeFlags = 1 << 0
	HandshakeNoZeroes      HandshakeFlags = 1 << 1
)

var handshakeFlagNames = []string{"FIXED_NEWSTYLE", "NO_ZEROES"}

// String returns the names of the set flags joined by "|", unknown bits
// in hex, or "0" when none is set.
func (f HandshakeFlags) String() string { return flagString(uint64(f), handshakeFlagNames) }

// ClientFlags are the 32 flag bits the client answers the greeting with
// (proto.md "Client flags").
type ClientFlags uint32

// Client flags.
const (
	ClientFixedNewstyle ClientFlags = 1 << 0
	ClientNoZeroes      ClientFlags = 1 << 1
)

var clientFlagNames = []string{"C_FIXED_NEWSTYLE", "C_NO_ZEROES"}

// String returns the names of the set flags joined by "|", unknown bits
// in hex, or "0" when none is set.
func (f ClientFlags) String() string { return flagString(uint64(f), clientFlagNames) }

// TransmissionFlags describe an export to the client (proto.md "Transmission
// flags"). This server sets only the flags its Backend can honour; see
// ExportFlags.
type TransmissionFlags uint16

// Transmission flags.
const (
	FlagHasFlags           TransmissionFlags = 1 << 0
	FlagReadOnly           TransmissionFlags = 1 << 1
	FlagSendFlush          TransmissionFlags = 1 << 2
	FlagSendFUA            TransmissionFlags = 1 << 3
	FlagRotational         TransmissionFlags = 1 << 4
	FlagSendTrim           TransmissionFlags = 1 << 5
	FlagSendWriteZeroes    TransmissionFlags = 1 << 6
	FlagSendDF             TransmissionFlags = 1 << 7
	FlagCanMultiConn       TransmissionFlags = 1 << 8
	FlagSendResize         TransmissionFlags = 1 << 9
	FlagSendCache          TransmissionFlags = 1 << 10
	FlagSendFastZero       TransmissionFlags = 1 << 11
	FlagBlockStatusPayload TransmissionFlags = 1 << 12
)

var transmissionFlagNames = []string{
	"HAS_FLAGS", "READ_ONLY", "SEND_FLUSH", "SEND_FUA", "ROTATIONAL", "SEND_TRIM",
	"SEND_WRITE_ZEROES", "SEND_DF", "CAN_MULTI_CONN", "SEND_RESIZE", "SEND_CACHE",
	"SEND_FAST_ZERO", "BLOCK_STATUS_PAYLOAD",
}

// String returns the names of the set flags joined by "|", unknown bits
// in hex, or "0" when none is set.
func (f TransmissionFlags) String() string { return flagString(uint64(f), transmissionFlagNames) }

// Option is an option sent during option haggling (proto.md "Option types").
type Option uint32

// Options.
const (
	OptExportName      Option = 1
	OptAbort           Option = 2
	OptList            Option = 3
	OptPeekExport      Option = 4
	OptStartTLS        Option = 5
	OptInfo            Option = 6
	OptGo              Option = 7
	OptStructuredReply Option = 8
	OptListMetaContext Option = 9
	OptSetMetaContext  Option = 10
	OptExtendedHeaders Option = 11
)

var optionNames = map[Option]string{
	OptExportName: "EXPORT_NAME", OptAbort: "ABORT", OptList: "LIST",
	OptPeekExport: "PEEK_EXPORT", OptStartTLS: "STARTTLS", OptInfo: "INFO", OptGo: "GO",
	OptStructuredReply: "STRUCTURED_REPLY", OptListMetaContext: "LIST_META_CONTEXT",
	OptSetMetaContext: "SET_META_CONTEXT", OptExtendedHeaders: "EXTENDED_HEADERS",
}

// String returns the proto.md name without its NBD_OPT_ prefix, or
// "Option(0xN)" for an unknown value.
func (o Option) String() string { return enumString(optionNames, o, "Option") }

// OptionReply is the type of a fixed-newstyle option reply (proto.md "Option
// reply types"). Error replies have bit 31 set.
type OptionReply uint32

// Option reply types.
const (
	RepAck              OptionReply = 1
	RepServer           OptionReply = 2
	RepInfo             OptionReply = 3
	RepMetaContext      OptionReply = 4
	RepErrUnsup         OptionReply = 1<<31 + 1
	RepErrPolicy        OptionReply = 1<<31 + 2
	RepErrInvalid       OptionReply = 1<<31 + 3
	RepErrPlatform      OptionReply = 1<<31 + 4
	RepErrTLSReqd       OptionReply = 1<<31 + 5
	RepErrUnknown       OptionReply = 1<<31 + 6
	RepErrShutdown      OptionReply = 1<<31 + 7
	RepErrBlockSizeReqd OptionReply = 1<<31 + 8
	RepErrTooBig        OptionReply = 1<<31 + 9
	RepErrExtHeaderReqd OptionReply = 1<<31 + 10

	optionReplyErrorFlag OptionReply = 1 << 31
)

var optionReplyNames = map[OptionReply]string{
	RepAck: "ACK", RepServer: "SERVER", RepInfo: "INFO", RepMetaContext: "META_CONTEXT",
	RepErrUnsup: "ERR_UNSUP", RepErrPolicy: "ERR_POLICY", RepErrInvalid: "ERR_INVALID",
	RepErrPlatform: "ERR_PLATFORM", RepErrTLSReqd: "ERR_TLS_REQD", RepErrUnknown: "ERR_UNKNOWN",
	RepErrShutdown: "ERR_SHUTDOWN", RepErrBlockSizeReqd: "ERR_BLOCK_SIZE_REQD",
	RepErrTooBig: "ERR_TOO_BIG", RepErrExtHeaderReqd: "ERR_EXT_HEADER_REQD",
}

// String returns the proto.md name without its NBD_REP_ prefix, or
// "OptionReply(0xN)" for an unknown value.
func (r OptionReply) String() string { return enumString(optionReplyNames, r, "OptionReply") }

// IsError reports whether r is an error reply (bit 31 set).
func (r OptionReply) IsError() bool { return r&optionReplyErrorFlag != 0 }

// InfoType is the type of an NBD_REP_INFO reply and of an information request
// in NBD_OPT_INFO and NBD_OPT_GO (proto.md "NBD_REP_INFO").
type InfoType uint16

// Information types.
const (
	InfoExport      InfoType = 0
	InfoName        InfoType = 1
	InfoDescription InfoType = 2
	InfoBlockSize   InfoType = 3
)

var infoTypeNames = map[InfoType]string{
	InfoExport: "EXPORT", InfoName: "NAME", InfoDescription: "DESCRIPTION", InfoBlockSize: "BLOCK_SIZE",
}

// String returns the proto.md name without its NBD_INFO_ prefix, or
// "InfoType(0xN)" for an unknown value.
func (t InfoType) String() string { return enumString(infoTypeNames, t, "InfoType") }

// Command is the type of a transmission request (proto.md "Request types").
type Command uint16

// Commands.
const (
	CmdRead        Command = 0
	CmdWrite       Command = 1
	CmdDisc        Command = 2
	CmdFlush       Command = 3
	CmdTrim        Command = 4
	CmdCache       Command = 5
	CmdWriteZeroes Command = 6
	CmdBlockStatus Command = 7
	CmdResize      Command = 8
)

var commandNames = map[Command]string{
	CmdRead: "READ", CmdWrite: "WRITE", CmdDisc: "DISC", CmdFlush: "FLUSH", CmdTrim: "TRIM",
	CmdCache: "CACHE", CmdWriteZeroes: "WRITE_ZEROES", CmdBlockStatus: "BLOCK_STATUS",
	CmdResize: "RESIZE",
}

// String returns the proto.md name without its NBD_CMD_ prefix, or
// "Command(0xN)" for an unknown value.
func (c Command) String() string { return enumString(commandNames, c, "Command") }

// CommandFlags modify a request (proto.md "Command flags"). On the wire they
// are the upper 16 bits of the 32-bit word whose lower 16 bits are the
// Command, which is how the Linux kernel writes them (FUA = 1<<16).
type CommandFlags uint16

// Command flags.
const (
	CmdFlagFUA        CommandFlags = 1 << 0
	CmdFlagNoHole     CommandFlags = 1 << 1
	CmdFlagDF         CommandFlags = 1 << 2
	CmdFlagReqOne     CommandFlags = 1 << 3
	CmdFlagFastZero   CommandFlags = 1 << 4
	CmdFlagPayloadLen CommandFlags = 1 << 5
)

var commandFlagNames = []string{"FUA", "NO_HOLE", "DF", "REQ_ONE", "FAST_ZERO", "PAYLOAD_LEN"}

// String returns the names of the set flags joined by "|", unknown bits
// in hex, or "0" when none is set.
func (f CommandFlags) String() string { return flagString(uint64(f), commandFlagNames) }

// ReplyFlags are the flags of a structured reply chunk (proto.md "Structured
// reply flags").
type ReplyFlags uint16

// ReplyFlagDone marks the last chunk of a structured reply.
const ReplyFlagDone ReplyFlags = 1 << 0

var replyFlagNames = []string{"DONE"}

// String returns the names of the set flags joined by "|", unknown bits
// in hex, or "0" when none is set.
func (f ReplyFlags) String() string { return flagString(uint64(f), replyFlagNames) }

// ChunkType is the type of a structured reply chunk (proto.md "Structured
// reply types"). Error chunks have bit 15 set.
type ChunkType uint16

// Chunk types.
const (
	ChunkNone           ChunkType = 0
	ChunkOffsetData     ChunkType = 1
	ChunkOffsetHole     ChunkType = 2
	ChunkBlockStatus    ChunkType = 5
	ChunkBlockStatusExt ChunkType = 6
	ChunkError          ChunkType = 1<<15 + 1
	ChunkErrorOffset    ChunkType = 1<<15 + 2
)

var chunkTypeNames = map[ChunkType]string{
	ChunkNone: "NONE", ChunkOffsetData: "OFFSET_DATA", ChunkOffsetHole: "OFFSET_HOLE",
	ChunkBlockStatus: "BLOCK_STATUS", ChunkBlockStatusExt: "BLOCK_STATUS_EXT",
	ChunkError: "ERROR", ChunkErrorOffset: "ERROR_OFFSET",
}

// String returns the proto.md name without its NBD_REPLY_TYPE_ prefix, or
// "ChunkType(0xN)" for an unknown value.
func (t ChunkType) String() string { return enumString(chunkTypeNames, t, "ChunkType") }

// IsError reports whether t is an error chunk type (bit 15 set).
func (t ChunkType) IsError() bool { return t&(1<<15) != 0 }

func enumString[T ~uint16 | ~uint32](names map[T]string, v T, typ string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(%#x)", typ, uint64(v))
}

// flagString names the set bits of v with names (bit i is names[i]) joined by
// "|"; unknown bits are shown in hex, zero as "0".
func flagString(v uint64, names []string) string {
	if v == 0 {
		return "0"
	}
	var parts []string
	for i, name := range names {
		if v&(1<<i) != 0 {
			parts = append(parts, name)
			v &^= 1 << i
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	return strings.Join(parts, "|")
}
