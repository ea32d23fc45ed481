package fuzz

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/nbd"
)

// nbdOption encodes one fixed-newstyle option (IHAVEOPT, option, length,
// data).
func nbdOption(opt nbd.Option, data []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, nbd.MagicOption)
	b = binary.BigEndian.AppendUint32(b, uint32(opt))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// nbdGo is NBD_OPT_GO for export name with the info requests given.
func nbdGo(name string, infos ...nbd.InfoType) []byte {
	d := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	d = append(d, name...)
	d = binary.BigEndian.AppendUint16(d, uint16(len(infos)))
	for _, i := range infos {
		d = binary.BigEndian.AppendUint16(d, uint16(i))
	}
	return nbdOption(nbd.OptGo, d)
}

func nbdRequest(q nbd.Request, payload []byte) []byte {
	b, _ := q.AppendBinary(nil)
	return append(b, payload...)
}

// nbdClientFlags is the client's answer to the greeting.
func nbdClientFlags(f nbd.ClientFlags) []byte { return binary.BigEndian.AppendUint32(nil, uint32(f)) }

// nbdSeeds are client conversations a real client has: option haggling
// then transmission, structured replies, the old EXPORT_NAME path, and
// requests out of range or oversized.
func nbdSeeds() [][]byte {
	flags := nbdClientFlags(nbd.ClientFixedNewstyle | nbd.ClientNoZeroes)
	transmission := bytes.Join([][]byte{
		nbdRequest(nbd.Request{Type: nbd.CmdWrite, Cookie: 1, Offset: 4096, Length: 8}, []byte("gompgomp")),
		nbdRequest(nbd.Request{Type: nbd.CmdRead, Cookie: 2, Offset: 4096, Length: 8}, nil),
		nbdRequest(nbd.Request{Flags: nbd.CmdFlagFUA, Type: nbd.CmdFlush, Cookie: 3}, nil),
		nbdRequest(nbd.Request{Type: nbd.CmdTrim, Cookie: 4, Offset: 65536, Length: 4096}, nil),
		nbdRequest(nbd.Request{Type: nbd.CmdWriteZeroes, Cookie: 5, Offset: 65536, Length: 8192}, nil),
		nbdRequest(nbd.Request{Type: nbd.CmdDisc}, nil),
	}, nil)
	return [][]byte{
		bytes.Join([][]byte{flags, nbdOption(nbd.OptList, nil), nbdGo("", nbd.InfoBlockSize), transmission}, nil),
		bytes.Join([][]byte{flags, nbdOption(nbd.OptStructuredReply, nil), nbdGo("disk"),
			nbdRequest(nbd.Request{Flags: nbd.CmdFlagDF, Type: nbd.CmdRead, Cookie: 9, Length: 65536}, nil), transmission}, nil),
		bytes.Join([][]byte{nbdClientFlags(nbd.ClientFixedNewstyle), nbdOption(nbd.OptExportName, []byte("disk")), transmission}, nil),
		bytes.Join([][]byte{flags, nbdGo(""),
			nbdRequest(nbd.Request{Type: nbd.CmdRead, Cookie: 1, Offset: 1 << 40, Length: 512}, nil),
			nbdRequest(nbd.Request{Type: nbd.CmdWrite, Cookie: 2, Length: 0xffffffff}, nil)}, nil),
		bytes.Join([][]byte{flags, nbdOption(nbd.Option(0xdead), bytes.Repeat([]byte{1}, 100)), nbdOption(nbd.OptAbort, nil)}, nil),
		bytes.Join([][]byte{flags, nbdOption(nbd.OptInfo, []byte{0xff, 0xff, 0xff, 0xff})}, nil),
	}
}

// FuzzNBDConn serves one NBD connection (handshake and transmission)
// from fuzzed client bytes, against a 1 MiB memory backend, in a
// synctest bubble: ServeConn must return once the client is gone, within
// bounded virtual time, without a panic, a leaked goroutine (the bubble
// fails if one is left blocked) or an allocation the server's limits do
// not allow.
func FuzzNBDConn(f *testing.F) {
	for _, s := range nbdSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		synctest.Test(t, func(t *testing.T) { serveNBD(t, nbd.NewMemory(1<<20), in) })
		runtime.ReadMemStats(&after)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(maxAlloc), "bounded allocation")
	})
}

// serveNBD plays in as the client of one connection to backend and
// waits for the server to end it.
func serveNBD(t *testing.T, backend nbd.Backend, in []byte) {
	srv := &nbd.Server{Backend: backend, ExportName: "disk", MaxInFlight: 8,
		MaxRequest: 256 << 10, MaxInFlightBytes: 1 << 20, HandshakeTimeout: 10 * time.Second}
	client, server := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- srv.ServeConn(context.Background(), server) }()
	drained := make(chan struct{})
	go func() { // the client reads every reply
		defer close(drained)
		_, _ = io.Copy(io.Discard, client)
	}()
	start := time.Now()
	_, _ = client.Write(in)
	// The client is done: it waits a while for replies, then hangs up.
	time.Sleep(time.Second)
	client.Close()
	<-served // any error is fine; a hang, a leak or a panic is not
	<-drained
	require.LessOrEqual(t, time.Since(start), time.Minute, "bounded time")
}

// The first seed is a real conversation: it reaches the transmission
// phase and its write lands in the backend.
func TestNBDSeedWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := nbd.NewMemory(1 << 20)
		serveNBD(t, m, nbdSeeds()[0])
		got := make([]byte, 8)
		_, err := m.ReadAtContext(context.Background(), got, 4096)
		require.NoError(t, err)
		require.Equal(t, "gompgomp", string(got))
	})
}
