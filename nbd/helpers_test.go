package nbd

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startServer serves srv on a fresh unix socket until the test ends and
// returns the socket path. Serve's result is checked at cleanup.
func startServer(t testing.TB, srv *Server) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nbd") // short: sun_path holds 108 bytes
	require.NoError(t, err)
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		os.RemoveAll(dir)
	})
	return path
}

// rawClient speaks NBD byte by byte, for tests that need to break the rules.
type rawClient struct {
	t testing.TB
	c net.Conn
}

func dialRaw(t testing.TB, path string) *rawClient {
	t.Helper()
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

func (rc *rawClient) write(b ...[]byte) {
	rc.t.Helper()
	for _, p := range b {
		if len(p) == 0 {
			continue
		}
		_, err := rc.c.Write(p)
		require.NoError(rc.t, err)
	}
}

func (rc *rawClient) read(n int) []byte {
	rc.t.Helper()
	b := make([]byte, n)
	_, err := io.ReadFull(rc.c, b)
	require.NoError(rc.t, err)
	return b
}

// expectClosed checks that the server closes the connection (after sending
// at most some bytes we do not care about).
func (rc *rawClient) expectClosed() {
	rc.t.Helper()
	_, err := io.Copy(io.Discard, rc.c)
	require.NoError(rc.t, err, "want EOF from the server")
}

// greet reads the greeting and sends client flags.
func (rc *rawClient) greet(flags ClientFlags) {
	rc.t.Helper()
	g := rc.read(18)
	require.Equal(rc.t, MagicInitPasswd, binary.BigEndian.Uint64(g[0:8]))
	require.Equal(rc.t, MagicOption, binary.BigEndian.Uint64(g[8:16]))
	rc.write(binary.BigEndian.AppendUint32(nil, uint32(flags)))
}

// option sends an option with data.
func (rc *rawClient) option(opt Option, data []byte) {
	rc.t.Helper()
	b := binary.BigEndian.AppendUint64(nil, MagicOption)
	b = binary.BigEndian.AppendUint32(b, uint32(opt))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	rc.write(append(b, data...))
}

type optReply struct {
	opt  Option
	typ  OptionReply
	data []byte
}

func (rc *rawClient) optReply() optReply {
	rc.t.Helper()
	h := rc.read(optReplyHdrLen)
	require.Equal(rc.t, MagicOptionReply, binary.BigEndian.Uint64(h[0:8]))
	r := optReply{opt: Option(binary.BigEndian.Uint32(h[8:12])), typ: OptionReply(binary.BigEndian.Uint32(h[12:16]))}
	r.data = rc.read(int(binary.BigEndian.Uint32(h[16:20])))
	return r
}

// infoData builds NBD_OPT_INFO/GO data.
func infoData(name string, reqs ...InfoType) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(reqs)))
	for _, r := range reqs {
		b = binary.BigEndian.AppendUint16(b, uint16(r))
	}
	return b
}

// goExport negotiates (optionally structured replies) and enters
// transmission with NBD_OPT_GO; it returns size and flags.
func (rc *rawClient) goExport(name string, structured bool) (uint64, TransmissionFlags) {
	rc.t.Helper()
	rc.greet(ClientFixedNewstyle | ClientNoZeroes)
	if structured {
		rc.option(OptStructuredReply, nil)
		require.Equal(rc.t, RepAck, rc.optReply().typ)
	}
	rc.option(OptGo, infoData(name, InfoBlockSize))
	var size uint64
	var flags TransmissionFlags
	for {
		r := rc.optReply()
		require.Equal(rc.t, OptGo, r.opt)
		if r.typ == RepAck {
			return size, flags
		}
		require.Equal(rc.t, RepInfo, r.typ, "reply %s %q", r.typ, r.data)
		if InfoType(binary.BigEndian.Uint16(r.data)) == InfoExport {
			size = binary.BigEndian.Uint64(r.data[2:10])
			flags = TransmissionFlags(binary.BigEndian.Uint16(r.data[10:12]))
		}
	}
}

// request sends a request header and payload.
func (rc *rawClient) request(q Request, payload []byte) {
	rc.t.Helper()
	b, _ := q.AppendBinary(nil)
	rc.write(append(b, payload...))
}

// simple reads a simple reply and, if it succeeded and dataLen > 0, its data.
func (rc *rawClient) simple(dataLen int) (SimpleReply, []byte) {
	rc.t.Helper()
	r, err := ParseSimpleReply(rc.read(SimpleReplyLen))
	require.NoError(rc.t, err)
	if r.Errno != 0 || dataLen == 0 {
		return r, nil
	}
	return r, rc.read(dataLen)
}

// chunk reads one structured reply chunk with its payload.
func (rc *rawClient) chunk() (ChunkHeader, []byte) {
	rc.t.Helper()
	h, err := ParseChunkHeader(rc.read(ChunkHeaderLen))
	require.NoError(rc.t, err)
	return h, rc.read(int(h.Length))
}

// disc sends NBD_CMD_DISC and waits for the server to close.
func (rc *rawClient) disc() {
	rc.t.Helper()
	rc.request(Request{Type: CmdDisc}, nil)
	rc.expectClosed()
}

// hookBackend wraps a MemoryBackend with hooks and a record of FUA writes.
type hookBackend struct {
	*MemoryBackend
	mu       sync.Mutex // guards the following
	fuaCount int
	flushes  int
	before   func(off int64) error // called before every read and write
}

// Inline returns false: hooks may block.
func (h *hookBackend) Inline() bool { return false }

func (h *hookBackend) hook(off int64) error {
	if h.before != nil {
		return h.before(off)
	}
	return nil
}

func (h *hookBackend) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := h.hook(off); err != nil {
		return 0, err
	}
	return h.MemoryBackend.ReadAtContext(ctx, p, off)
}

func (h *hookBackend) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	if err := h.hook(off); err != nil {
		return 0, err
	}
	if fua {
		h.mu.Lock()
		h.fuaCount++
		h.mu.Unlock()
	}
	return h.MemoryBackend.WriteAtContext(ctx, p, off, fua)
}

func (h *hookBackend) Flush(ctx context.Context) error {
	h.mu.Lock()
	h.flushes++
	h.mu.Unlock()
	return nil
}

func (h *hookBackend) counts() (fua, flushes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fuaCount, h.flushes
}

// plainBackend has only the Backend methods: no optional interface.
type plainBackend struct{ m *MemoryBackend }

func (p plainBackend) ReadAtContext(ctx context.Context, b []byte, off int64) (int, error) {
	return p.m.ReadAtContext(ctx, b, off)
}

func (p plainBackend) WriteAtContext(ctx context.Context, b []byte, off int64, fua bool) (int, error) {
	return p.m.WriteAtContext(ctx, b, off, fua)
}

func (p plainBackend) Size() int64 { return p.m.Size() }

// roBackend is a read-only MemoryBackend.
type roBackend struct{ *MemoryBackend }

func (roBackend) ReadOnly() bool { return true }

// blockBackend has a 4 KiB minimum block and 64 KiB maximum payload.
type blockBackend struct{ *MemoryBackend }

func (blockBackend) BlockSize() (uint32, uint32, uint32) { return 4096, 4096, 64 << 10 }

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}
