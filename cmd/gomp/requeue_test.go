package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
	"github.com/gomp-dev/gomp/pdu"
)

// writeCounter counts the WRITE(16) commands a target receives at one LBA.
type writeCounter struct {
	lba uint64
	mu  sync.Mutex
	n   int
}

func (w *writeCounter) hook(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
	if c, ok := p.(*pdu.SCSICommand); ok && len(c.CDB) == 16 && c.CDB[0] == 0x8a &&
		binary.BigEndian.Uint64(c.CDB[2:]) == w.lba {
		w.mu.Lock()
		w.n++
		w.mu.Unlock()
	}
	return iscsitest.Continue
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// nbdWrite sends an NBD write on c (the transmission phase, as the kernel
// speaks it on its sockets).
func nbdWrite(t *testing.T, c net.Conn, cookie, off uint64, data []byte) {
	t.Helper()
	b, err := nbd.Request{Type: nbd.CmdWrite, Cookie: cookie, Offset: off, Length: uint32(len(data))}.AppendBinary(nil)
	require.NoError(t, err)
	_, err = c.Write(append(b, data...))
	require.NoError(t, err)
}

func nbdReply(t *testing.T, c net.Conn) nbd.SimpleReply {
	t.Helper()
	b := make([]byte, 16)
	_, err := io.ReadFull(c, b)
	require.NoError(t, err)
	r, err := nbd.ParseSimpleReply(b)
	require.NoError(t, err)
	return r
}

func waitQueued(t *testing.T, d *multipath.Device, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return d.Status().QueuedIOs == n }, 10*time.Second, 5*time.Millisecond,
		"%d I/Os queued", n)
}

// The kernel's nbd driver resends a request on another connection once it
// gave up the first (a timeout with several connections, or a socket
// replaced after a restart), and shuts the first socket down. A copy that
// was still queued for a path dies with its connection: when the path
// returns, the write reaches the target once, and the newer write the file
// system made after the resent copy was acknowledged is not overwritten.
func TestKernelStyleRequeueWritesOnce(t *testing.T) {
	const lba = 100
	wc := &writeCounter{lba: lba}
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(21)
	tg := iscsitest.New(iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{1: lun}, Hooks: iscsitest.Hooks{OnReceive: wc.hook}})
	t.Cleanup(func() { tg.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = tg.Listen(ln) }()
	portal := ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := multipath.Open(ctx, multipath.Config{Target: tg.Name(), LUN: 1, Portals: []string{portal},
		Settings: multipath.Settings{NoPathRetry: multipath.NoPathRetryQueue}})
	require.NoError(t, err)
	defer func() { require.NoError(t, d.Close(context.Background())) }()
	require.NoError(t, d.FailPath(portal)) // every path down: I/O queues

	sock := filepath.Join(t.TempDir(), "kernel.sock")
	kl, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer kl.Close()
	srv := &nbd.Server{}
	go func() {
		for {
			c, err := kl.Accept()
			if err != nil {
				return
			}
			go func() { _ = srv.ServeTransmission(context.Background(), c, d) }()
		}
	}()
	defer srv.Shutdown(context.Background())

	older, newer := bytes.Repeat([]byte{0xA1}, 4096), bytes.Repeat([]byte{0xB2}, 4096)
	c1, err := net.Dial("unix", sock)
	require.NoError(t, err)
	nbdWrite(t, c1, 7, lba*512, older)
	waitQueued(t, d, 1)
	require.NoError(t, c1.Close()) // the kernel gives the first socket up...
	waitQueued(t, d, 0)            // ...and its queued copy dies with it

	c2, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c2.Close()
	nbdWrite(t, c2, 7, lba*512, older) // the resent copy
	waitQueued(t, d, 1)
	require.NoError(t, d.ReinstatePath(portal))
	r := nbdReply(t, c2)
	require.Equal(t, uint64(7), r.Cookie)
	require.Zero(t, r.Errno)
	nbdWrite(t, c2, 8, lba*512, newer) // the file system's next write to the block
	r = nbdReply(t, c2)
	require.Equal(t, uint64(8), r.Cookie)
	require.Zero(t, r.Errno)

	got := make([]byte, 4096)
	_, err = lun.ReadAt(got, lba*512)
	require.NoError(t, err)
	require.Equal(t, newer, got, "the newer write stays")
	require.Equal(t, 2, wc.count(), "the resent copy and the newer write, never the abandoned copy")
}
