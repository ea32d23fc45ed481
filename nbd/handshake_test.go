package nbd

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testServer() *Server {
	return &Server{
		Backend: NewMemory(1 << 20), ExportName: "disk", Description: "test disk",
		Exports: []Export{{Name: "small", Backend: blockBackend{NewMemory(64 << 10)}}},
	}
}

func TestGreetingGolden(t *testing.T) {
	rc := dialRaw(t, startServer(t, testServer()))
	require.Equal(t, unhex(t, `
		4e42444d41474943  // NBDMAGIC
		49484156454f5054  // IHAVEOPT
		0003              // handshake flags: FIXED_NEWSTYLE | NO_ZEROES`), rc.read(18))
}

func TestOptList(t *testing.T) {
	rc := dialRaw(t, startServer(t, testServer()))
	rc.greet(ClientFixedNewstyle)
	rc.option(OptList, nil)
	r := rc.optReply()
	require.Equal(t, optReply{OptList, RepServer, unhex(t, `00000004 6469736b 74657374206469736b // 4, "disk", "test disk"`)}, r)
	r = rc.optReply()
	require.Equal(t, optReply{OptList, RepServer, unhex(t, `00000005 736d616c6c // 5, "small"`)}, r)
	require.Equal(t, RepAck, rc.optReply().typ)

	rc.option(OptList, []byte{1}) // data is not allowed
	require.Equal(t, RepErrInvalid, rc.optReply().typ)
	rc.option(OptAbort, nil)
	require.Equal(t, optReply{OptAbort, RepAck, []byte{}}, rc.optReply())
	rc.expectClosed()
}

func TestOptInfo(t *testing.T) {
	rc := dialRaw(t, startServer(t, testServer()))
	rc.greet(ClientFixedNewstyle | ClientNoZeroes)
	rc.option(OptInfo, infoData("", InfoName, InfoDescription, InfoBlockSize, InfoType(77)))
	want := []optReply{
		{OptInfo, RepInfo, unhex(t, `0000 0000000000100000 016d // EXPORT, 1 MiB, HAS_FLAGS|SEND_FLUSH|SEND_FUA|SEND_TRIM|SEND_WRITE_ZEROES|CAN_MULTI_CONN`)},
		{OptInfo, RepInfo, unhex(t, `0001 6469736b // NAME "disk" (the canonical name of "")`)},
		{OptInfo, RepInfo, unhex(t, `0002 74657374206469736b // DESCRIPTION "test disk"`)},
		{OptInfo, RepInfo, unhex(t, `0003 00000001 00001000 02000000 // BLOCK_SIZE 1, 4096, 32 MiB`)},
		{OptInfo, RepAck, []byte{}},
	}
	for _, w := range want {
		require.Equal(t, w, rc.optReply())
	}
	// The second export has its own block sizes; no NAME unless asked.
	rc.option(OptInfo, infoData("small"))
	require.Equal(t, unhex(t, `0000 0000000000010000 016d`), rc.optReply().data)
	require.Equal(t, unhex(t, `0003 00001000 00001000 00010000 // 4096, 4096, 64 KiB`), rc.optReply().data)
	require.Equal(t, RepAck, rc.optReply().typ)

	rc.option(OptInfo, infoData("nope"))
	require.Equal(t, RepErrUnknown, rc.optReply().typ)
	rc.option(OptGo, []byte{0, 0, 0, 9, 0}) // malformed
	require.Equal(t, RepErrInvalid, rc.optReply().typ)
}

func TestOptGoStructured(t *testing.T) {
	rc := dialRaw(t, startServer(t, testServer()))
	size, flags := rc.goExport("disk", true)
	require.EqualValues(t, 1<<20, size)
	require.Equal(t, FlagHasFlags|FlagSendFlush|FlagSendFUA|FlagSendTrim|FlagSendWriteZeroes|FlagSendDF|FlagCanMultiConn, flags)
	rc.disc()
}

func TestOptExportName(t *testing.T) {
	path := startServer(t, testServer())
	for _, noZeroes := range []bool{false, true} {
		rc := dialRaw(t, path)
		flags := ClientFixedNewstyle
		if noZeroes {
			flags |= ClientNoZeroes
		}
		rc.greet(flags)
		rc.option(OptExportName, []byte("disk"))
		want := unhex(t, `0000000000100000 016d // size 1 MiB, flags`)
		if !noZeroes {
			want = append(want, make([]byte, 124)...)
		}
		require.Equal(t, want, rc.read(len(want)))
		rc.request(Request{Type: CmdRead, Cookie: 5, Length: 8}, nil)
		r, data := rc.simple(8)
		require.Equal(t, SimpleReply{Cookie: 5}, r)
		require.Equal(t, make([]byte, 8), data)
		rc.disc()
	}
	rc := dialRaw(t, path)
	rc.greet(ClientFixedNewstyle)
	rc.option(OptExportName, []byte("missing")) // cannot be refused softly
	rc.expectClosed()
}

func TestOptErrorsKeepConnection(t *testing.T) {
	rc := dialRaw(t, startServer(t, testServer()))
	rc.greet(ClientFixedNewstyle)
	for _, opt := range []Option{OptStartTLS, OptListMetaContext, OptSetMetaContext, OptExtendedHeaders, OptPeekExport, Option(0x7fff)} {
		rc.option(opt, []byte("xyz"))
		r := rc.optReply()
		require.Equal(t, opt, r.opt)
		require.Equal(t, RepErrUnsup, r.typ, "%s", opt)
		require.NotEmpty(t, r.data, "error replies carry a message")
	}
	rc.option(OptStructuredReply, []byte{0})
	require.Equal(t, RepErrInvalid, rc.optReply().typ)
	// Too long to keep but short enough to skip: ERR_TOO_BIG, then go on.
	rc.option(OptInfo, make([]byte, maxOptionData+1))
	require.Equal(t, RepErrTooBig, rc.optReply().typ)
	rc.option(OptSetMetaContext, make([]byte, 100<<10))
	require.Equal(t, RepErrUnsup, rc.optReply().typ)
	rc.option(OptGo, infoData("disk"))
	for rc.optReply().typ != RepAck {
	}
	rc.disc()
}

// TestHandshakeViolations: each violation closes that connection only.
func TestHandshakeViolations(t *testing.T) {
	path := startServer(t, testServer())
	absurd := binary.BigEndian.AppendUint64(nil, MagicOption)
	absurd = binary.BigEndian.AppendUint32(absurd, uint32(OptGo))
	absurd = binary.BigEndian.AppendUint32(absurd, 0xfffffff0) // ~4 GiB of option data
	longName := binary.BigEndian.AppendUint64(nil, MagicOption)
	longName = binary.BigEndian.AppendUint32(longName, uint32(OptExportName))
	longName = binary.BigEndian.AppendUint32(longName, maxOptionData+1)
	cases := map[string]struct {
		flags ClientFlags
		send  []byte
	}{
		"unknown client flag": {ClientFixedNewstyle | 1<<5, nil},
		"bad option magic":    {ClientFixedNewstyle, unhex(t, `4e42444d41474943 00000001 00000000`)},
		"absurd length":       {ClientFixedNewstyle, absurd},
		"long export name":    {ClientFixedNewstyle, longName},
		"truncated option":    {ClientFixedNewstyle, absurd[:10]},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, path)
			rc.greet(tc.flags)
			rc.write(tc.send)
			if name == "truncated option" {
				rc.c.(interface{ CloseWrite() error }).CloseWrite()
			}
			rc.expectClosed()
			// The server still serves a second client.
			rc2 := dialRaw(t, path)
			size, _ := rc2.goExport("", false)
			require.EqualValues(t, 1<<20, size)
			rc2.disc()
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srv := testServer()
	srv.HandshakeTimeout = 50 * time.Millisecond
	rc := dialRaw(t, startServer(t, srv))
	rc.read(18)
	rc.expectClosed() // no client flags sent: the server gives up
}

func TestNoExports(t *testing.T) {
	rc := dialRaw(t, startServer(t, &Server{}))
	rc.greet(ClientFixedNewstyle)
	rc.option(OptList, nil)
	require.Equal(t, RepAck, rc.optReply().typ)
	rc.option(OptGo, infoData(""))
	require.Equal(t, RepErrUnknown, rc.optReply().typ)
}

// TestHandshakeInMemory drives the handshake over a byte script, as the
// fuzzer does, and checks the exact reply stream.
func TestHandshakeInMemory(t *testing.T) {
	var in bytes.Buffer
	in.Write(unhex(t, `00000003                          // client flags: FIXED_NEWSTYLE | NO_ZEROES
		49484156454f5054 00000008 00000000  // NBD_OPT_STRUCTURED_REPLY
		49484156454f5054 00000002 00000000  // NBD_OPT_ABORT`))
	var out bytes.Buffer
	h := &handshake{s: testServer(), rw: readWriter{&in, &out}, peer: "test"}
	exp, err := h.run()
	require.NoError(t, err)
	require.Nil(t, exp)
	require.True(t, h.structured)
	require.Equal(t, unhex(t, `4e42444d41474943 49484156454f5054 0003 // greeting
		0003e889045565a9 00000008 00000001 00000000  // STRUCTURED_REPLY: ACK
		0003e889045565a9 00000002 00000001 00000000  // ABORT: ACK`), out.Bytes())
}

type readWriter struct {
	r *bytes.Buffer
	w *bytes.Buffer
}

func (rw readWriter) Read(p []byte) (int, error)  { return rw.r.Read(p) }
func (rw readWriter) Write(p []byte) (int, error) { return rw.w.Write(p) }
