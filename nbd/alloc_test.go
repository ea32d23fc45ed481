package nbd

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// pingPong is a client with one request in flight: prebuilt request bytes,
// a reply buffer, nothing allocated per round trip.
type pingPong struct {
	c     net.Conn
	req   []byte
	reply []byte
}

func newPingPong(t testing.TB, path string, structured bool, q Request, payload []byte, replyLen int) *pingPong {
	rc := dialRaw(t, path)
	rc.goExport("", structured)
	req, _ := q.AppendBinary(nil)
	return &pingPong{c: rc.c, req: append(req, payload...), reply: make([]byte, replyLen)}
}

func (p *pingPong) roundTrip(t testing.TB) {
	if _, err := p.c.Write(p.req); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(p.c, p.reply); err != nil {
		t.Fatal(err)
	}
}

// blockingMemory is the memory backend taken for one that may block (not
// an Inliner): its requests go reader → worker → writer.
type blockingMemory struct{ *MemoryBackend }

func (blockingMemory) Inline() bool { return false }

// TestAllocsPerRequest proves the steady state allocates nothing per request
// on either side of the server: reader, worker, writer, pool and backend,
// for an Inliner backend (requests executed by the reader) and for one that
// is not (requests executed by workers, as multipath's).
func TestAllocsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	t.Run("inline", func(t *testing.T) { testAllocsPerRequest(t, NewMemory(1<<20)) })
	t.Run("workers", func(t *testing.T) { testAllocsPerRequest(t, blockingMemory{NewMemory(1 << 20)}) })
}

func testAllocsPerRequest(t *testing.T, b Backend) {
	path := startServer(t, &Server{Backend: b})
	data := pattern(4096, 1)
	cases := map[string]*pingPong{
		"read simple":     newPingPong(t, path, false, Request{Type: CmdRead, Cookie: 1, Length: 4096}, nil, SimpleReplyLen+4096),
		"read structured": newPingPong(t, path, true, Request{Type: CmdRead, Cookie: 1, Length: 4096}, nil, ChunkHeaderLen+8+4096),
		"write":           newPingPong(t, path, false, Request{Type: CmdWrite, Cookie: 1, Length: 4096}, data, SimpleReplyLen),
		"write FUA":       newPingPong(t, path, false, Request{Flags: CmdFlagFUA, Type: CmdWrite, Cookie: 1, Length: 4096}, data, SimpleReplyLen),
		"flush":           newPingPong(t, path, false, Request{Type: CmdFlush, Cookie: 1}, nil, SimpleReplyLen),
		"read 1 MiB":      newPingPong(t, path, false, Request{Type: CmdRead, Cookie: 1, Length: 1 << 20}, nil, SimpleReplyLen+1<<20),
		"write 1 MiB":     newPingPong(t, path, false, Request{Type: CmdWrite, Cookie: 1, Length: 1 << 20}, pattern(1<<20, 2), SimpleReplyLen),
		"error reply":     newPingPong(t, path, true, Request{Type: CmdRead, Cookie: 1, Offset: 1 << 20, Length: 512}, nil, ChunkHeaderLen+6+len(errnoText[ErrnoInvalid])),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			for range 50 {
				p.roundTrip(t)
			}
			allocs := testing.AllocsPerRun(500, func() { p.roundTrip(t) })
			require.Zero(t, allocs, "allocations per request")
		})
	}
}

func benchmarkPingPong(b *testing.B, q Request, payload []byte, replyLen int) {
	path := startServer(b, &Server{Backend: NewMemory(64 << 20)})
	p := newPingPong(b, path, false, q, payload, replyLen)
	b.SetBytes(int64(q.Length))
	b.ReportAllocs()
	for b.Loop() {
		p.roundTrip(b)
	}
}

func BenchmarkRead4K(b *testing.B) {
	benchmarkPingPong(b, Request{Type: CmdRead, Length: 4096}, nil, SimpleReplyLen+4096)
}

func BenchmarkWrite4K(b *testing.B) {
	benchmarkPingPong(b, Request{Type: CmdWrite, Length: 4096}, make([]byte, 4096), SimpleReplyLen)
}

func BenchmarkRead1M(b *testing.B) {
	benchmarkPingPong(b, Request{Type: CmdRead, Length: 1 << 20}, nil, SimpleReplyLen+1<<20)
}

func BenchmarkWrite1M(b *testing.B) {
	benchmarkPingPong(b, Request{Type: CmdWrite, Length: 1 << 20}, make([]byte, 1<<20), SimpleReplyLen)
}

// BenchmarkRead4KQD32 keeps 32 reads in flight on one connection: one
// goroutine sends, the benchmark goroutine reads replies.
func BenchmarkRead4KQD32(b *testing.B) {
	const depth = 32
	path := startServer(b, &Server{Backend: NewMemory(64 << 20)})
	rc := dialRaw(b, path)
	rc.goExport("", false)
	req, _ := Request{Type: CmdRead, Length: 4096}.AppendBinary(nil)
	credits := make(chan struct{}, depth)
	for range depth {
		credits <- struct{}{}
	}
	n := b.N
	go func() {
		for range n {
			<-credits
			if _, err := rc.c.Write(req); err != nil {
				return
			}
		}
	}()
	reply := make([]byte, SimpleReplyLen+4096)
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for range n {
		if _, err := io.ReadFull(rc.c, reply); err != nil {
			b.Fatal(err)
		}
		credits <- struct{}{}
	}
}
