package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"
)

// FuzzTransmissionReplies runs the transmission phase (simple replies)
// over an arbitrary request stream whose cookies are renumbered so that
// each request has its own, and checks the replies, not only that serving
// ends: every reply carries a cookie that was asked and not yet answered,
// a successful read is followed by exactly the bytes asked, and the reply
// stream parses to its end with nothing left over.
func FuzzTransmissionReplies(f *testing.F) {
	req := func(q Request, payload []byte) []byte {
		b, _ := q.AppendBinary(nil)
		return append(b, payload...)
	}
	f.Add(byte(0), bytes.Join([][]byte{
		req(Request{Type: CmdWrite, Offset: 100, Length: 5}, []byte("hello")),
		req(Request{Type: CmdRead, Offset: 100, Length: 5}, nil),
		req(Request{Flags: CmdFlagFUA, Type: CmdFlush}, nil),
		req(Request{Type: CmdTrim, Length: 4096}, nil),
		req(Request{Type: CmdRead, Offset: 1 << 30, Length: 1}, nil),
		req(Request{Type: CmdRead, Length: 0}, nil),
		req(Request{Type: CmdRead, Length: 200 << 10}, nil),
		req(Request{Type: Command(77), Length: 9}, nil)}, nil))
	f.Add(byte(2), req(Request{Type: CmdWrite, Length: 10}, make([]byte, 10)))
	f.Add(byte(4), req(Request{Type: CmdRead, Offset: 512, Length: 4096}, nil))
	f.Fuzz(func(t *testing.T, shape byte, in []byte) {
		srv := &Server{MaxInFlight: 8, MaxRequest: 256 << 10, MaxInFlightBytes: 1 << 20}
		asked, script := renumber(in, srv.RequestLimit())
		exp := newExportState(&Export{Backend: fuzzBackend(shape &^ 1)}, srv.RequestLimit(), false)
		conn := &recordConn{scriptConn: scriptConn{r: bytes.NewReader(script)}}
		tc, _ := srv.track(conn)
		done := make(chan error, 1)
		go func() { done <- srv.transmit(context.Background(), tc, exp) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("transmission did not end with its input")
		}
		checkReplies(t, conn.bytes(), asked)
	})
}

// renumber walks the requests of in as the server reads them, gives
// request i cookie i+1 and returns the requests by cookie with the
// rewritten stream. It stops where the server stops reading (a
// disconnect, an oversized write, a cut header).
func renumber(in []byte, maxRequest uint32) (map[uint64]Request, []byte) {
	asked := map[uint64]Request{}
	out := append([]byte(nil), in...)
	for off := 0; off+RequestLen <= len(out); {
		q, err := ParseRequest(out[off : off+RequestLen])
		if err != nil || q.Type == CmdDisc || q.Type == CmdWrite && q.Length > maxRequest {
			break
		}
		cookie := uint64(len(asked) + 1)
		binary.BigEndian.PutUint64(out[off+8:], cookie)
		q.Cookie = cookie
		asked[cookie] = q
		off += RequestLen
		if q.Type == CmdWrite {
			off += int(q.Length)
		}
	}
	return asked, out
}

// checkReplies parses simple replies from out against the requests asked.
func checkReplies(t *testing.T, out []byte, asked map[uint64]Request) {
	t.Helper()
	answered := map[uint64]bool{}
	for len(out) > 0 {
		r, err := ParseSimpleReply(out)
		if err != nil {
			t.Fatalf("reply %d: %v (%d bytes left)", len(answered), err, len(out))
		}
		out = out[SimpleReplyLen:]
		q, ok := asked[r.Cookie]
		if !ok || answered[r.Cookie] {
			t.Fatalf("reply to cookie %d: never asked or answered twice", r.Cookie)
		}
		answered[r.Cookie] = true
		if q.Type == CmdRead && r.Errno == 0 {
			if len(out) < int(q.Length) {
				t.Fatalf("read %d: %d bytes of data, asked %d", r.Cookie, len(out), q.Length)
			}
			out = out[q.Length:]
		}
	}
}

// recordConn is a scriptConn that keeps what the server writes.
type recordConn struct {
	scriptConn
	mu  sync.Mutex // guards out
	out bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *recordConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Bytes()
}
