package nbd

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadWriteSimple(t *testing.T) {
	hb := &hookBackend{MemoryBackend: NewMemory(1 << 20)}
	rc := dialRaw(t, startServer(t, &Server{Backend: hb}))
	rc.goExport("", false)
	data := pattern(10000, 1)
	rc.request(Request{Type: CmdWrite, Cookie: 1, Offset: 1000, Length: uint32(len(data))}, data)
	r, _ := rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 1}, r)
	rc.request(Request{Flags: CmdFlagFUA, Type: CmdWrite, Cookie: 2, Offset: 0, Length: 3}, []byte("abc"))
	r, _ = rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 2}, r)
	rc.request(Request{Type: CmdFlush, Cookie: 3}, nil)
	r, _ = rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 3}, r)
	fua, flushes := hb.counts()
	require.Equal(t, 1, fua)
	require.Equal(t, 1, flushes)

	rc.request(Request{Type: CmdRead, Cookie: 4, Offset: 1000, Length: 10000}, nil)
	r, got := rc.simple(10000)
	require.Equal(t, SimpleReply{Cookie: 4}, r)
	require.Equal(t, data, got)
	rc.request(Request{Type: CmdRead, Cookie: 5, Offset: 0, Length: 0}, nil) // empty read: header only
	r, _ = rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 5}, r)
	rc.disc()
}

func TestTrimAndZeroes(t *testing.T) {
	hb := &hookBackend{MemoryBackend: NewMemory(1 << 20)}
	rc := dialRaw(t, startServer(t, &Server{Backend: hb}))
	rc.goExport("", false)
	data := pattern(1<<18, 1)
	rc.request(Request{Type: CmdWrite, Cookie: 1, Length: uint32(len(data))}, data)
	rc.simple(0)
	require.EqualValues(t, 1<<18, hb.Allocated())
	rc.request(Request{Type: CmdTrim, Cookie: 2, Offset: 0, Length: 1 << 17}, nil)
	r, _ := rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 2}, r)
	rc.request(Request{Flags: CmdFlagFUA | CmdFlagNoHole, Type: CmdWriteZeroes, Cookie: 3, Offset: 1 << 17, Length: 1 << 16}, nil)
	r, _ = rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 3}, r)
	rc.request(Request{Type: CmdWriteZeroes, Cookie: 4, Offset: 3 << 16, Length: 1 << 16}, nil)
	rc.simple(0)
	require.EqualValues(t, 1<<16, hb.Allocated(), "trim and zeroing punch holes, NO_HOLE keeps one chunk")
	_, flushes := hb.counts()
	require.Equal(t, 1, flushes, "FUA on WRITE_ZEROES flushes")
	rc.request(Request{Type: CmdRead, Cookie: 5, Length: 1 << 18}, nil)
	_, got := rc.simple(1 << 18)
	require.Equal(t, make([]byte, 1<<18), got)
	rc.disc()
}

func TestStructuredReplies(t *testing.T) {
	m := NewMemory(1 << 20)
	rc := dialRaw(t, startServer(t, &Server{Backend: m}))
	rc.goExport("", true)
	data := pattern(4096, 2)
	rc.request(Request{Type: CmdWrite, Cookie: 1, Offset: 8192, Length: 4096}, data)
	r, _ := rc.simple(0) // non-read replies stay simple
	require.Equal(t, SimpleReply{Cookie: 1}, r)

	rc.request(Request{Flags: CmdFlagDF, Type: CmdRead, Cookie: 2, Offset: 8192, Length: 4096}, nil)
	h, payload := rc.chunk()
	require.Equal(t, ChunkHeader{Flags: ReplyFlagDone, Type: ChunkOffsetData, Cookie: 2, Length: 8 + 4096}, h)
	require.EqualValues(t, 8192, binary.BigEndian.Uint64(payload))
	require.Equal(t, data, payload[8:])

	rc.request(Request{Type: CmdRead, Cookie: 3, Offset: 1 << 20, Length: 1}, nil)
	h, payload = rc.chunk()
	require.Equal(t, ChunkHeader{Flags: ReplyFlagDone, Type: ChunkError, Cookie: 3, Length: uint32(len(payload))}, h)
	require.EqualValues(t, ErrnoInvalid, binary.BigEndian.Uint32(payload))
	require.Equal(t, "invalid argument", string(payload[6:6+binary.BigEndian.Uint16(payload[4:])]))

	rc.request(Request{Type: CmdRead, Cookie: 4, Length: 0}, nil)
	h, _ = rc.chunk()
	require.Equal(t, ChunkHeader{Flags: ReplyFlagDone, Type: ChunkNone, Cookie: 4}, h)

	rc.request(Request{Type: CmdRead, Cookie: 5, Length: DefaultMaxRequest + 1}, nil)
	h, payload = rc.chunk()
	require.Equal(t, ChunkError, h.Type)
	require.EqualValues(t, ErrnoOverflow, binary.BigEndian.Uint32(payload))
	rc.disc()
}

// TestRequestErrors: invalid requests fail with the errno of proto.md "Error
// values" and the connection goes on (write payloads are skipped).
func TestRequestErrors(t *testing.T) {
	path := startServer(t, &Server{
		Backend: NewMemory(1 << 20),
		Exports: []Export{
			{Name: "ro", Backend: roBackend{NewMemory(1 << 20)}},
			{Name: "plain", Backend: plainBackend{NewMemory(1 << 20)}},
			{Name: "4k", Backend: blockBackend{NewMemory(1 << 20)}},
		},
	})
	cases := []struct {
		name, export string
		q            Request
		payload      int
		want         Errno
	}{
		{"read past end", "", Request{Type: CmdRead, Offset: 1<<20 - 10, Length: 11}, 0, ErrnoInvalid},
		{"read offset past end", "", Request{Type: CmdRead, Offset: 1 << 40, Length: 1}, 0, ErrnoInvalid},
		{"read offset wraps", "", Request{Type: CmdRead, Offset: ^uint64(0), Length: 2}, 0, ErrnoInvalid},
		{"write past end", "", Request{Type: CmdWrite, Offset: 1 << 20, Length: 512}, 512, ErrnoNoSpace},
		{"trim past end", "", Request{Type: CmdTrim, Offset: 1 << 19, Length: 1<<19 + 1}, 0, ErrnoInvalid},
		{"zeroes past end", "", Request{Type: CmdWriteZeroes, Offset: 1 << 20, Length: 1}, 0, ErrnoNoSpace},
		{"unknown command", "", Request{Type: Command(42), Length: 0}, 0, ErrnoInvalid},
		{"block status unsupported", "", Request{Type: CmdBlockStatus, Length: 512}, 0, ErrnoInvalid},
		{"cache unsupported", "", Request{Type: CmdCache, Length: 512}, 0, ErrnoInvalid},
		{"unknown flag", "", Request{Flags: 1 << 12, Type: CmdRead, Length: 512}, 0, ErrnoInvalid},
		{"no hole on write", "", Request{Flags: CmdFlagNoHole, Type: CmdWrite, Length: 16}, 16, ErrnoInvalid},
		{"DF without structured", "", Request{Flags: CmdFlagDF, Type: CmdRead, Length: 16}, 0, ErrnoInvalid},
		{"read too large", "", Request{Type: CmdRead, Length: DefaultMaxRequest + 1}, 0, ErrnoInvalid},
		{"write read-only", "ro", Request{Type: CmdWrite, Length: 512}, 512, ErrnoPerm},
		{"trim read-only", "ro", Request{Type: CmdTrim, Length: 512}, 0, ErrnoPerm},
		{"zeroes read-only", "ro", Request{Type: CmdWriteZeroes, Length: 512}, 0, ErrnoPerm},
		{"FUA not advertised", "plain", Request{Flags: CmdFlagFUA, Type: CmdWrite, Length: 4}, 4, ErrnoInvalid},
		{"flush not advertised", "plain", Request{Type: CmdFlush}, 0, ErrnoInvalid},
		{"trim not advertised", "plain", Request{Type: CmdTrim, Length: 512}, 0, ErrnoInvalid},
		{"zeroes not advertised", "plain", Request{Type: CmdWriteZeroes, Length: 512}, 0, ErrnoInvalid},
		{"misaligned read", "4k", Request{Type: CmdRead, Offset: 512, Length: 4096}, 0, ErrnoInvalid},
		{"misaligned write length", "4k", Request{Type: CmdWrite, Offset: 0, Length: 1000}, 1000, ErrnoInvalid},
		{"write above block max", "4k", Request{Type: CmdWrite, Length: 128 << 10}, 128 << 10, ErrnoInvalid},
	}
	conns := map[string]*rawClient{}
	for _, name := range []string{"", "ro", "plain", "4k"} {
		conns[name] = dialRaw(t, path)
		conns[name].goExport(name, false)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := conns[tc.export]
			rc.t = t
			tc.q.Cookie = 0xabc
			rc.request(tc.q, make([]byte, tc.payload))
			r, _ := rc.simple(0)
			require.Equal(t, SimpleReply{Errno: tc.want, Cookie: 0xabc}, r)
			// The connection still works.
			rc.request(Request{Type: CmdRead, Cookie: 9, Length: 4096}, nil)
			r, _ = rc.simple(4096)
			require.Equal(t, SimpleReply{Cookie: 9}, r)
		})
	}
	for _, rc := range conns {
		rc.t = t
		rc.disc()
	}
}

// TestTransmissionViolations: each closes that connection, and only it.
func TestTransmissionViolations(t *testing.T) {
	path := startServer(t, &Server{Backend: NewMemory(1 << 20)})
	bystander := dialRaw(t, path)
	bystander.goExport("", false)
	bad := map[string][]byte{
		"bad magic":          unhex(t, `12560953 0000 0000 0000000000000001 0000000000000000 00000200`),
		"oversized write":    unhex(t, `25609513 0000 0001 0000000000000001 0000000000000000 02000001 // 32 MiB + 1`),
		"absurd write":       unhex(t, `25609513 0000 0001 0000000000000001 0000000000000000 ffffffff`),
		"truncated header":   unhex(t, `25609513 0000 0000 00000000`),
		"truncated payload":  unhex(t, `25609513 0000 0001 0000000000000001 0000000000000000 00000200 00112233`),
		"truncated skipping": unhex(t, `25609513 0000 0001 0000000000000001 0000000000100000 00000200 00112233`),
	}
	for name, wire := range bad {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, path)
			rc.goExport("", false)
			rc.write(wire)
			rc.c.(*net.UnixConn).CloseWrite()
			rc.expectClosed()
			bystander.t = t
			bystander.request(Request{Type: CmdRead, Cookie: 1, Length: 512}, nil)
			r, _ := bystander.simple(512)
			require.Equal(t, SimpleReply{Cookie: 1}, r)
		})
	}
	bystander.t = t
	bystander.disc()
}

// gateBackend blocks reads at offset 0 until released, to force out-of-order
// replies and to keep requests in flight.
type gateBackend struct {
	*MemoryBackend
	gate    chan struct{}
	started chan struct{}
}

func newGateBackend() *gateBackend {
	return &gateBackend{MemoryBackend: NewMemory(1 << 20), gate: make(chan struct{}), started: make(chan struct{}, 16)}
}

// Inline returns false: ReadAtContext blocks on the gate.
func (g *gateBackend) Inline() bool { return false }

func (g *gateBackend) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off == 0 {
		g.started <- struct{}{}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return g.MemoryBackend.ReadAtContext(ctx, p, off)
}

func TestOutOfOrderReplies(t *testing.T) {
	g := newGateBackend()
	rc := dialRaw(t, startServer(t, &Server{Backend: g}))
	rc.goExport("", false)
	rc.request(Request{Type: CmdRead, Cookie: 1, Offset: 0, Length: 512}, nil)
	<-g.started
	rc.request(Request{Type: CmdRead, Cookie: 2, Offset: 4096, Length: 512}, nil)
	r, _ := rc.simple(512)
	require.Equal(t, uint64(2), r.Cookie, "the later request is answered first")
	close(g.gate)
	r, _ = rc.simple(512)
	require.Equal(t, uint64(1), r.Cookie)
	rc.disc()
}

// TestDiscAnswersInFlight: after NBD_CMD_DISC the server answers what is in
// flight, then closes.
func TestDiscAnswersInFlight(t *testing.T) {
	g := newGateBackend()
	rc := dialRaw(t, startServer(t, &Server{Backend: g}))
	rc.goExport("", false)
	rc.request(Request{Type: CmdRead, Cookie: 7, Length: 512}, nil)
	<-g.started
	rc.request(Request{Type: CmdDisc}, nil)
	close(g.gate)
	r, _ := rc.simple(512)
	require.Equal(t, SimpleReply{Cookie: 7}, r)
	rc.expectClosed()
}

func TestShutdownDrains(t *testing.T) {
	g := newGateBackend()
	srv := &Server{Backend: g}
	path := startServer(t, srv)
	rc := dialRaw(t, path)
	rc.goExport("", false)
	idle := dialRaw(t, path) // in option haggling
	idle.greet(ClientFixedNewstyle)
	rc.request(Request{Type: CmdRead, Cookie: 3, Length: 512}, nil)
	<-g.started
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	idle.expectClosed()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.gate)
	r, _ := rc.simple(512)
	require.Equal(t, SimpleReply{Cookie: 3}, r)
	rc.expectClosed()
	require.NoError(t, <-done)
	_, err := net.Dial("unix", path)
	require.Error(t, err, "listener closed")
}

func TestShutdownDeadline(t *testing.T) {
	g := newGateBackend()
	srv := &Server{Backend: g}
	rc := dialRaw(t, startServer(t, srv))
	rc.goExport("", false)
	rc.request(Request{Type: CmdRead, Cookie: 3, Length: 512}, nil)
	<-g.started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
	rc.expectClosed() // the stuck request's context is cancelled; the connection closed
}

func TestServeConnContextCancel(t *testing.T) {
	g := newGateBackend()
	srv := &Server{Backend: g}
	a, b := unixSocketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeConn(ctx, a) }()
	rc := &rawClient{t: t, c: b}
	rc.goExport("", false)
	rc.request(Request{Type: CmdRead, Cookie: 3, Length: 512}, nil)
	<-g.started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	rc.expectClosed()
}

// unixSocketPair returns two connected unix stream sockets, as kernel attach
// code would create.
func unixSocketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

// TestServeTransmissionKernelStyle speaks as the Linux kernel does on a
// socketpair: no handshake, flags in the upper half of the type word, simple
// replies.
func TestServeTransmissionKernelStyle(t *testing.T) {
	hb := &hookBackend{MemoryBackend: NewMemory(1 << 20)}
	a, b := unixSocketPair(t)
	srv := &Server{}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTransmission(context.Background(), a, hb) }()
	rc := &rawClient{t: t, c: b}
	data := pattern(4096, 5)
	rc.write(unhex(t, `25609513
		00010001          // type word: NBD_CMD_FLAG_FUA<<16 | NBD_CMD_WRITE
		0000000100000002  // cookie (the kernel's tag and counter)
		0000000000002000  // offset 8192
		00001000          // length 4096`), data)
	r, _ := rc.simple(0)
	require.Equal(t, SimpleReply{Cookie: 0x100000002}, r)
	fua, _ := hb.counts()
	require.Equal(t, 1, fua)
	rc.request(Request{Type: CmdRead, Cookie: 3, Offset: 8192, Length: 4096}, nil)
	r, got := rc.simple(4096)
	require.Equal(t, SimpleReply{Cookie: 3}, r)
	require.Equal(t, data, got)
	rc.request(Request{Type: CmdDisc}, nil)
	rc.expectClosed()
	require.NoError(t, <-errc)
}

// TestManyInFlight keeps more requests queued than MaxInFlight and a small
// byte budget, and checks every reply arrives exactly once.
func TestManyInFlight(t *testing.T) {
	srv := &Server{Backend: NewMemory(4 << 20), MaxInFlight: 4, MaxInFlightBytes: 64 << 10}
	rc := dialRaw(t, startServer(t, srv))
	rc.goExport("", false)
	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			size := 4096 * (1 + i%20)
			rc.request(Request{Type: CmdWrite, Cookie: uint64(i), Offset: uint64(i) * 16384, Length: uint32(size)}, pattern(size, byte(i)))
		}
	})
	seen := map[uint64]bool{}
	for range n {
		r, _ := rc.simple(0)
		require.Zero(t, r.Errno)
		require.False(t, seen[r.Cookie])
		seen[r.Cookie] = true
	}
	wg.Wait()
	rc.disc()
}

// failBackend fails every write with err and reads short; inline, it takes
// write payloads as a Receiver, else through WriteAtContext.
type failBackend struct {
	*MemoryBackend
	err    error
	inline bool
}

func (f failBackend) Inline() bool { return f.inline }
func (f failBackend) WriteAtContext(context.Context, []byte, int64, bool) (int, error) {
	return 0, f.err
}
func (f failBackend) ReceiveAt(_ context.Context, r io.Reader, _, _ int64, _ bool) error {
	io.Copy(io.Discard, r)
	return f.err
}
func (f failBackend) ReadAtContext(_ context.Context, p []byte, _ int64) (int, error) {
	return len(p) / 2, nil // short read without error: EIO
}

func TestBackendErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Errno
	}{
		{ErrNoSpace, ErrnoNoSpace},
		{&os.PathError{Op: "pwrite", Path: "/x", Err: syscall.EROFS}, ErrnoPerm},
		{errors.New("boom"), ErrnoIO},
	} {
		for _, inline := range []bool{false, true} {
			rc := dialRaw(t, startServer(t, &Server{Backend: failBackend{NewMemory(1 << 20), tc.err, inline}}))
			rc.goExport("", false)
			rc.request(Request{Type: CmdWrite, Cookie: 1, Length: 8}, make([]byte, 8))
			r, _ := rc.simple(0)
			require.Equal(t, SimpleReply{Errno: tc.want, Cookie: 1}, r, "inline %v", inline)
			rc.request(Request{Type: CmdRead, Cookie: 2, Length: 8}, nil)
			r, _ = rc.simple(8)
			require.Equal(t, SimpleReply{Errno: ErrnoIO, Cookie: 2}, r, "short read")
			rc.disc()
		}
	}
}

// partialReceiver reads only the first half of each payload, then returns err.
type partialReceiver struct {
	*MemoryBackend
	err error
}

func (p partialReceiver) ReceiveAt(_ context.Context, r io.Reader, _, n int64, _ bool) error {
	io.CopyN(io.Discard, r, n/2)
	return p.err
}

// TestReceiverContract: a Receiver that leaves part of a payload unread, with
// or without an error, fails that request (EIO unless it said otherwise),
// and the connection stays in step; a Receiver cannot read past its payload.
func TestReceiverContract(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Errno
	}{
		{nil, ErrnoIO},
		{ErrNoSpace, ErrnoNoSpace},
	} {
		rc := dialRaw(t, startServer(t, &Server{Backend: partialReceiver{NewMemory(1 << 20), tc.err}}))
		rc.goExport("", false)
		for _, size := range []int{8, 256 << 10} {
			rc.request(Request{Type: CmdWrite, Cookie: 1, Length: uint32(size)}, pattern(size, 1))
			rc.request(Request{Type: CmdFlush, Cookie: 2}, nil)
			r, _ := rc.simple(0)
			require.Equal(t, SimpleReply{Errno: tc.want, Cookie: 1}, r, "%d-byte write", size)
			r, _ = rc.simple(0)
			require.Equal(t, SimpleReply{Cookie: 2}, r, "the flush after it")
		}
		rc.disc()
	}

	// The memory backend receives a payload exactly, across chunks; the
	// request behind it is parsed intact.
	m := NewMemory(1 << 20)
	rc := dialRaw(t, startServer(t, &Server{Backend: m}))
	rc.goExport("", false)
	data := pattern(3*memChunkSize+100, 9)
	rc.request(Request{Type: CmdWrite, Cookie: 1, Offset: memChunkSize - 50, Length: uint32(len(data))}, data)
	rc.request(Request{Type: CmdFlush, Cookie: 3}, nil)
	for cookie := uint64(1); cookie <= 3; cookie += 2 {
		r, _ := rc.simple(0)
		require.Equal(t, SimpleReply{Cookie: cookie}, r)
	}
	rc.request(Request{Type: CmdRead, Cookie: 2, Offset: memChunkSize - 50, Length: uint32(len(data))}, nil)
	r, got := rc.simple(len(data))
	require.Equal(t, SimpleReply{Cookie: 2}, r)
	require.Equal(t, data, got)
	require.Equal(t, int64(5*memChunkSize), m.Allocated(), "chunks 0 to 4 written")
	rc.disc()
}

// TestInlinePipelined drives the inline mode (MemoryBackend is an Inliner)
// with one burst of requests far larger than its reply batch, its slots and
// its byte budget, a failing request among them: every request is answered
// once, reads see the writes sent before them, and the connection stays
// usable.
func TestInlinePipelined(t *testing.T) {
	const n, size = 300, 1024
	srv := &Server{Backend: NewMemory(1 << 20), MaxInFlight: 8, MaxInFlightBytes: 4 * size}
	rc := dialRaw(t, startServer(t, srv))
	rc.goExport("", false)

	data := pattern(n*size, 3)
	var burst []byte
	for i := range n {
		q := Request{Type: CmdWrite, Cookie: uint64(i), Offset: uint64(i * size), Length: size}
		burst, _ = q.AppendBinary(burst)
		burst = append(burst, data[i*size:(i+1)*size]...)
	}
	burst, _ = Request{Type: CmdRead, Cookie: 1 << 40, Offset: 1 << 20, Length: size}.AppendBinary(burst)
	for i := range n {
		q := Request{Type: CmdRead, Cookie: uint64(n + i), Offset: uint64(i * size), Length: size}
		burst, _ = q.AppendBinary(burst)
	}
	sent := make(chan error, 1)
	go func() { _, err := rc.c.Write(burst); sent <- err }()

	seen := map[uint64]bool{}
	for range 2*n + 1 {
		r, err := ParseSimpleReply(rc.read(SimpleReplyLen))
		require.NoError(t, err)
		require.False(t, seen[r.Cookie], "cookie %d answered twice", r.Cookie)
		seen[r.Cookie] = true
		switch {
		case r.Cookie == 1<<40:
			require.Equal(t, ErrnoInvalid, r.Errno, "read past the end")
		case r.Cookie < n:
			require.Zero(t, r.Errno)
		default:
			require.Zero(t, r.Errno)
			i := int(r.Cookie) - n
			require.Equal(t, data[i*size:(i+1)*size], rc.read(size), "read %d", i)
		}
	}
	require.NoError(t, <-sent)

	// Reads and writes above inlineMax go to workers, between inline ones.
	big := pattern(2*inlineMax, 5)
	burst, _ = Request{Type: CmdWrite, Cookie: 1, Offset: 512 << 10, Length: uint32(len(big))}.AppendBinary(burst[:0])
	burst = append(burst, big...)
	burst, _ = Request{Type: CmdRead, Cookie: 2, Offset: 0, Length: size}.AppendBinary(burst)
	burst, _ = Request{Type: CmdFlush, Cookie: 3}.AppendBinary(burst)
	rc.write(burst)
	got := map[uint64]SimpleReply{}
	for range 3 {
		r, err := ParseSimpleReply(rc.read(SimpleReplyLen))
		require.NoError(t, err)
		got[r.Cookie] = r
		if r.Cookie == 2 {
			require.Equal(t, data[:size], rc.read(size))
		}
	}
	require.Equal(t, map[uint64]SimpleReply{1: {Cookie: 1}, 2: {Cookie: 2}, 3: {Cookie: 3}}, got)
	rc.request(Request{Type: CmdRead, Cookie: 4, Offset: 512 << 10, Length: uint32(len(big))}, nil)
	r, b := rc.simple(len(big))
	require.Equal(t, SimpleReply{Cookie: 4}, r)
	require.Equal(t, big, b)
	rc.disc()
}

// growBackend is a MemoryBackend that reports a larger size once grown,
// as a resized LUN does.
type growBackend struct {
	*MemoryBackend
	grown atomic.Bool
}

func (g *growBackend) Size() int64 {
	if g.grown.Load() {
		return g.MemoryBackend.Size()
	}
	return g.MemoryBackend.Size() / 2
}

// TestGrownExportServesNewBlocks: a backend that grew after the handshake
// serves its new blocks on the connection it already has (the kernel's,
// told the new size by a resize), and a range past the new end is still
// refused.
func TestGrownExportServesNewBlocks(t *testing.T) {
	const size = 1 << 20
	b := &growBackend{MemoryBackend: NewMemory(size)}
	rc := dialRaw(t, startServer(t, &Server{Backend: b}))
	got, _ := rc.goExport("", false)
	require.EqualValues(t, size/2, got)

	data := pattern(4096, 9)
	rc.request(Request{Type: CmdWrite, Cookie: 1, Offset: size * 3 / 4, Length: 4096}, data)
	r, _ := rc.simple(0)
	require.Equal(t, ErrnoNoSpace, r.Errno, "past the end before growing")

	b.grown.Store(true)
	rc.request(Request{Type: CmdWrite, Cookie: 2, Offset: size * 3 / 4, Length: 4096}, data)
	r, _ = rc.simple(0)
	require.Zero(t, r.Errno, "inside the grown export")
	rc.request(Request{Type: CmdRead, Cookie: 3, Offset: size * 3 / 4, Length: 4096}, nil)
	r, got2 := rc.simple(4096)
	require.Zero(t, r.Errno)
	require.Equal(t, data, got2)
	rc.request(Request{Type: CmdRead, Cookie: 4, Offset: size, Length: 4096}, nil)
	r, _ = rc.simple(0)
	require.Equal(t, ErrnoInvalid, r.Errno, "past the grown end")
}
