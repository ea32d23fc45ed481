package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzHandshake feeds arbitrary client bytes to the server side of option
// haggling. It must end (the input runs out) without panicking, and its
// memory is bounded by the option limits whatever lengths the input claims.
func FuzzHandshake(f *testing.F) {
	opt := func(o Option, data []byte) []byte {
		b := appendU64(nil, MagicOption)
		b = appendU32(b, uint32(o))
		b = appendU32(b, uint32(len(data)))
		return append(b, data...)
	}
	flags := []byte{0, 0, 0, 3}
	f.Add(flags)
	f.Add(append(append([]byte{}, flags...), opt(OptList, nil)...))
	f.Add(bytes.Join([][]byte{flags, opt(OptStructuredReply, nil), opt(OptInfo, infoData("", InfoName, InfoDescription, InfoBlockSize)), opt(OptGo, infoData("disk"))}, nil))
	f.Add(bytes.Join([][]byte{flags, opt(OptExportName, []byte("small"))}, nil))
	f.Add(bytes.Join([][]byte{flags, opt(OptStartTLS, nil), opt(Option(99), []byte("x")), opt(OptAbort, nil)}, nil))
	f.Add(bytes.Join([][]byte{flags, opt(OptInfo, make([]byte, maxOptionData+1))}, nil))
	f.Add(bytes.Join([][]byte{flags, appendU32(appendU32(appendU64(nil, MagicOption), 7), 0xffffffff)}, nil))
	srv := testServer()
	f.Fuzz(func(t *testing.T, in []byte) {
		h := &handshake{s: srv, rw: readWriter{bytes.NewBuffer(in), new(bytes.Buffer)}, peer: "fuzz"}
		exp, err := h.run()
		if err == nil && exp != nil && exp.b == nil {
			t.Fatal("export without backend")
		}
		if len(h.out) > 1<<20 {
			t.Fatalf("reply buffer grew to %d bytes", len(h.out))
		}
	})
}

// FuzzTransmission runs the transmission phase over an arbitrary request
// stream against a memory backend. The first byte picks the connection's
// shape (structured replies, read-only, 4 KiB blocks). Serving must end when
// the input does, answer or drop every request, and never panic.
func FuzzTransmission(f *testing.F) {
	req := func(q Request, payload []byte) []byte {
		b, _ := q.AppendBinary(nil)
		return append(b, payload...)
	}
	f.Add(bytes.Join([][]byte{{0},
		req(Request{Type: CmdWrite, Cookie: 1, Offset: 100, Length: 5}, []byte("hello")),
		req(Request{Type: CmdRead, Cookie: 2, Offset: 100, Length: 5}, nil),
		req(Request{Flags: CmdFlagFUA, Type: CmdFlush, Cookie: 3}, nil),
		req(Request{Type: CmdTrim, Cookie: 4, Length: 4096}, nil),
		req(Request{Flags: CmdFlagNoHole, Type: CmdWriteZeroes, Cookie: 5, Length: 8192}, nil),
		req(Request{Type: CmdDisc}, nil)}, nil))
	f.Add(bytes.Join([][]byte{{1},
		req(Request{Flags: CmdFlagDF, Type: CmdRead, Cookie: 1, Length: 4096}, nil),
		req(Request{Type: CmdRead, Cookie: 2, Offset: 1 << 30, Length: 1}, nil),
		req(Request{Type: CmdRead, Cookie: 3, Length: 0}, nil)}, nil))
	f.Add(bytes.Join([][]byte{{2}, req(Request{Type: CmdWrite, Length: 10}, make([]byte, 10))}, nil))
	f.Add(bytes.Join([][]byte{{4}, req(Request{Type: CmdWrite, Offset: 512, Length: 4096}, make([]byte, 4096))}, nil))
	f.Add(bytes.Join([][]byte{{0}, req(Request{Type: CmdWrite, Length: 0xffffffff}, nil)}, nil))
	f.Add(bytes.Join([][]byte{{0}, req(Request{Type: Command(77), Length: 0xffffffff}, nil)}, nil))
	f.Add([]byte{0, 0x12, 0x56, 0x09, 0x53})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		srv := &Server{MaxInFlight: 8, MaxRequest: 256 << 10, MaxInFlightBytes: 1 << 20}
		b := fuzzBackend(in[0])
		exp := newExportState(&Export{Backend: b}, srv.RequestLimit(), in[0]&1 != 0)
		conn := &scriptConn{r: bytes.NewReader(in[1:])}
		tc, _ := srv.track(conn)
		done := make(chan error, 1)
		go func() { done <- srv.transmit(context.Background(), tc, exp) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("transmission did not end with its input")
		}
	})
}

func fuzzBackend(shape byte) Backend {
	m := NewMemory(1 << 20)
	switch {
	case shape&2 != 0:
		return roBackend{m}
	case shape&4 != 0:
		return blockBackend{m}
	}
	return m
}

// scriptConn is a net.Conn that reads a script and discards what is written.
type scriptConn struct{ r io.Reader }

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
