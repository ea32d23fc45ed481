package nbd

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// unhex decodes a golden byte string written with comments: everything after
// "//" on a line is ignored, as is whitespace.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	require.NoError(t, err)
	return b
}

// checkTruncated checks that every proper prefix of wire fails to parse.
func checkTruncated[T any](t *testing.T, wire []byte, parse func([]byte) (T, error)) {
	t.Helper()
	for n := range len(wire) {
		_, err := parse(wire[:n])
		require.Error(t, err, "prefix of %d bytes", n)
	}
}

func TestRequestGolden(t *testing.T) {
	cases := []struct {
		name string
		q    Request
		wire string
	}{
		{"write FUA", Request{Flags: CmdFlagFUA, Type: CmdWrite, Cookie: 0x0102030405060708, Offset: 0x1000, Length: 512}, `
			25609513          // NBD_REQUEST_MAGIC
			0001              // command flags: FUA
			0001              // type: NBD_CMD_WRITE
			0102030405060708  // cookie
			0000000000001000  // offset 4096
			00000200          // length 512`},
		{"read", Request{Type: CmdRead, Cookie: 1, Offset: 0, Length: 4096}, `
			25609513 0000 0000   // magic, no flags, NBD_CMD_READ
			0000000000000001     // cookie 1
			0000000000000000     // offset 0
			00001000             // length 4096`},
		{"write zeroes no hole", Request{Flags: CmdFlagNoHole | CmdFlagFUA, Type: CmdWriteZeroes, Cookie: ^uint64(0), Offset: 1 << 40, Length: 1 << 31}, `
			25609513 0003 0006   // magic, FUA|NO_HOLE, NBD_CMD_WRITE_ZEROES
			ffffffffffffffff     // cookie
			0000010000000000     // offset 1 TiB
			80000000             // length 2 GiB`},
		{"disc", Request{Type: CmdDisc}, `
			25609513 0000 0002   // magic, no flags, NBD_CMD_DISC
			0000000000000000 0000000000000000 00000000`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(t, tc.wire)
			got, err := tc.q.AppendBinary(nil)
			require.NoError(t, err)
			require.Equal(t, wire, got)
			q, err := ParseRequest(wire)
			require.NoError(t, err)
			require.Equal(t, tc.q, q)
			checkTruncated(t, wire, ParseRequest)
		})
	}
}

// TestKernelFlagsLayout checks that flags in the upper 16 bits of the 32-bit
// type word, as the Linux kernel writes them, decode as command flags.
func TestKernelFlagsLayout(t *testing.T) {
	wire := unhex(t, `25609513 00010001   // magic; type word: FUA<<16 | NBD_CMD_WRITE
		00000000000000aa 0000000000000200 00000200`)
	q, err := ParseRequest(wire)
	require.NoError(t, err)
	require.Equal(t, CmdWrite, q.Type)
	require.Equal(t, CmdFlagFUA, q.Flags)
}

func TestRequestBadMagic(t *testing.T) {
	wire := unhex(t, `12560953 0000 0000 0000000000000001 0000000000000000 00000200 // historic magic`)
	_, err := ParseRequest(wire)
	require.ErrorIs(t, err, ErrProtocol)
}

func TestSimpleReplyGolden(t *testing.T) {
	r := SimpleReply{Errno: ErrnoNoSpace, Cookie: 0xdeadbeefcafe}
	wire := unhex(t, `
		67446698          // NBD_SIMPLE_REPLY_MAGIC
		0000001c          // error 28: NBD_ENOSPC
		0000deadbeefcafe  // cookie`)
	got, _ := r.AppendBinary(nil)
	require.Equal(t, wire, got)
	back, err := ParseSimpleReply(wire)
	require.NoError(t, err)
	require.Equal(t, r, back)
	checkTruncated(t, wire, ParseSimpleReply)
	_, err = ParseSimpleReply(unhex(t, `668e33ef 00000000 0000000000000000`))
	require.ErrorIs(t, err, ErrProtocol)
}

func TestChunkGolden(t *testing.T) {
	h := ChunkHeader{Flags: ReplyFlagDone, Type: ChunkOffsetData, Cookie: 7, Length: 8 + 4096}
	wire := unhex(t, `
		668e33ef          // NBD_STRUCTURED_REPLY_MAGIC
		0001              // flags: NBD_REPLY_FLAG_DONE
		0001              // type: NBD_REPLY_TYPE_OFFSET_DATA
		0000000000000007  // cookie
		00001008          // length: 8-byte offset + 4096 data bytes`)
	got, _ := h.AppendBinary(nil)
	require.Equal(t, wire, got)
	back, err := ParseChunkHeader(wire)
	require.NoError(t, err)
	require.Equal(t, h, back)
	checkTruncated(t, wire, ParseChunkHeader)

	withOffset := unhex(t, `668e33ef 0001 0001 0000000000000007 00001008
		0000000000010000  // offset 64 KiB`)
	require.Equal(t, withOffset, appendOffsetData(nil, ReplyFlagDone, 7, 1<<16, 4096))

	errChunk := unhex(t, `
		668e33ef 0001      // magic, DONE
		8001               // type: NBD_REPLY_TYPE_ERROR
		0000000000000009   // cookie
		0000000a           // length: 4 + 2 + 4-byte message
		00000016           // error 22: NBD_EINVAL
		0004               // message length (the message follows separately)`)
	require.Equal(t, errChunk, appendErrorChunk(nil, 9, ErrnoInvalid, 4))
}

func TestOptionWireGolden(t *testing.T) {
	hdr := unhex(t, `
		49484156454f5054  // IHAVEOPT
		00000007          // NBD_OPT_GO
		00000006          // length`)
	oh, err := parseOptionHeader(hdr)
	require.NoError(t, err)
	require.Equal(t, optionHeader{Option: OptGo, Length: 6}, oh)
	checkTruncated(t, hdr, parseOptionHeader)
	_, err = parseOptionHeader(unhex(t, `4e42444d41474943 00000007 00000000 // NBDMAGIC`))
	require.ErrorIs(t, err, ErrProtocol)

	reply := unhex(t, `
		0003e889045565a9  // option reply magic
		00000003          // NBD_OPT_LIST
		00000002          // NBD_REP_SERVER
		00000007          // length
		00000003 646973   // name length 3, "dis"`)
	require.Equal(t, reply, appendOptionReply(nil, OptList, RepServer, []byte{0, 0, 0, 3}, []byte("dis")))

	errReply := unhex(t, `0003e889045565a9 0000002a 80000001 00000000 // option 42, ERR_UNSUP, no data`)
	require.Equal(t, errReply, appendOptionReply(nil, Option(42), RepErrUnsup))
}

func TestParseInfoRequest(t *testing.T) {
	name, reqs, ok := parseInfoRequest(unhex(t, `
		00000004 64697363  // name length 4, "disc"
		0002               // two information requests
		0003 0001          // BLOCK_SIZE, NAME`))
	require.True(t, ok)
	require.Equal(t, "disc", name)
	require.Equal(t, []InfoType{InfoBlockSize, InfoName}, reqs)
	for _, bad := range []string{
		``, `00000000 00`, // too short
		`00000005 64697363 0000`,         // name longer than the data
		`00000000 0002 0003`,             // count says 2, one given
		`00000000 0000 0003`,             // trailing bytes
		`ffffffff 0000`,                  // absurd name length
		`00000004 64697363 0001 0003 00`, // odd trailing byte
	} {
		_, _, ok := parseInfoRequest(unhex(t, bad))
		require.False(t, ok, "%q", bad)
	}
}

func TestEnumStrings(t *testing.T) {
	for _, tc := range []struct {
		v    interface{ String() string }
		want string
	}{
		{CmdWriteZeroes, "WRITE_ZEROES"}, {Command(99), "Command(0x63)"},
		{OptGo, "GO"}, {Option(1000), "Option(0x3e8)"},
		{RepErrUnsup, "ERR_UNSUP"}, {InfoBlockSize, "BLOCK_SIZE"},
		{ChunkError, "ERROR"}, {ErrnoNoSpace, "ENOSPC"}, {Errno(0), "OK"}, {Errno(7), "Errno(0x7)"},
		{FlagHasFlags | FlagSendFlush | FlagCanMultiConn, "HAS_FLAGS|SEND_FLUSH|CAN_MULTI_CONN"},
		{TransmissionFlags(0), "0"}, {CmdFlagFUA | CommandFlags(1<<9), "FUA|0x200"},
		{HandshakeFixedNewstyle | HandshakeNoZeroes, "FIXED_NEWSTYLE|NO_ZEROES"},
		{ClientNoZeroes, "C_NO_ZEROES"}, {ReplyFlagDone, "DONE"},
	} {
		require.Equal(t, tc.want, tc.v.String())
	}
	require.True(t, RepErrTooBig.IsError())
	require.False(t, RepInfo.IsError())
	require.True(t, ChunkErrorOffset.IsError())
	require.False(t, ChunkOffsetData.IsError())
}
