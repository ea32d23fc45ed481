package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/gomp-dev/gomp/nbd"
)

// Netlink messages are in host byte order; the golden bytes are little-endian.
func skipBigEndian(t *testing.T) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("golden netlink bytes are little-endian")
	}
}

func genlBytes(t *testing.T, cmd genlCommand, attrs []byte) []byte {
	t.Helper()
	b, err := genetlink.Message{Header: genetlink.Header{Command: uint8(cmd), Version: genlVersion}, Data: attrs}.MarshalBinary()
	require.NoError(t, err)
	return b
}

var kernTestParams = netlinkParams{
	index: -1, size: 64 << 20, blockSize: 512, timeout: 30,
	serverFlags: nbd.FlagHasFlags | nbd.FlagSendFlush | nbd.FlagSendFUA | nbd.FlagSendTrim | nbd.FlagCanMultiConn,
	backendID:   "gomp", fds: []int{7, 8},
}

func TestNetlinkGolden(t *testing.T) {
	skipBigEndian(t)
	withIndex := kernTestParams
	withIndex.index, withIndex.deadConn, withIndex.clientFlags = 3, 120, cflagDisconnectOnClose
	withIndex.fds = []int{9}
	cases := []struct {
		name   string
		cmd    genlCommand
		encode func() ([]byte, error)
		want   []byte
	}{
		{"connect, kernel picks the index", genlCmdConnect, func() ([]byte, error) { return encodeConnect(kernTestParams) }, []byte{
			0x01, 0x01, 0x00, 0x00, // genl header: NBD_CMD_CONNECT, version 1, reserved
			0x0c, 0x00, 0x02, 0x00, 0, 0, 0, 4, 0, 0, 0, 0, // SIZE_BYTES u64 64 MiB
			0x0c, 0x00, 0x03, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, // BLOCK_SIZE_BYTES u64 512
			0x0c, 0x00, 0x05, 0x00, 0x2d, 1, 0, 0, 0, 0, 0, 0, // SERVER_FLAGS u64 HAS_FLAGS|SEND_FLUSH|SEND_FUA|SEND_TRIM|CAN_MULTI_CONN
			0x0c, 0x00, 0x06, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, // CLIENT_FLAGS u64 0
			0x0c, 0x00, 0x04, 0x00, 30, 0, 0, 0, 0, 0, 0, 0, // TIMEOUT u64 30 s
			0x09, 0x00, 0x0a, 0x00, 'g', 'o', 'm', 'p', 0, 0, 0, 0, // BACKEND_IDENTIFIER "gomp\0" + pad
			0x1c, 0x00, 0x07, 0x80, // SOCKETS (nested), 28 bytes
			0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 7, 0, 0, 0, // SOCK_ITEM { SOCK_FD u32 7 }
			0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 8, 0, 0, 0, // SOCK_ITEM { SOCK_FD u32 8 }
		}},
		{"connect to index 3", genlCmdConnect, func() ([]byte, error) { return encodeConnect(withIndex) }, []byte{
			0x01, 0x01, 0x00, 0x00,
			0x08, 0x00, 0x01, 0x00, 3, 0, 0, 0, // INDEX u32 3
			0x0c, 0x00, 0x02, 0x00, 0, 0, 0, 4, 0, 0, 0, 0,
			0x0c, 0x00, 0x03, 0x00, 0, 2, 0, 0, 0, 0, 0, 0,
			0x0c, 0x00, 0x05, 0x00, 0x2d, 1, 0, 0, 0, 0, 0, 0,
			0x0c, 0x00, 0x06, 0x00, 2, 0, 0, 0, 0, 0, 0, 0, // CLIENT_FLAGS DISCONNECT_ON_CLOSE
			0x0c, 0x00, 0x04, 0x00, 30, 0, 0, 0, 0, 0, 0, 0,
			0x0c, 0x00, 0x08, 0x00, 120, 0, 0, 0, 0, 0, 0, 0, // DEAD_CONN_TIMEOUT u64 120 s
			0x09, 0x00, 0x0a, 0x00, 'g', 'o', 'm', 'p', 0, 0, 0, 0,
			0x10, 0x00, 0x07, 0x80, // SOCKETS, 16 bytes
			0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 9, 0, 0, 0,
		}},
		{"reconfigure index 3", genlCmdReconfigure, func() ([]byte, error) { return encodeReconfigure(withIndex) }, []byte{
			0x03, 0x01, 0x00, 0x00, // NBD_CMD_RECONFIGURE
			0x08, 0x00, 0x01, 0x00, 3, 0, 0, 0, // INDEX
			0x0c, 0x00, 0x06, 0x00, 2, 0, 0, 0, 0, 0, 0, 0, // CLIENT_FLAGS
			0x0c, 0x00, 0x04, 0x00, 30, 0, 0, 0, 0, 0, 0, 0, // TIMEOUT
			0x0c, 0x00, 0x08, 0x00, 120, 0, 0, 0, 0, 0, 0, 0, // DEAD_CONN_TIMEOUT
			0x09, 0x00, 0x0a, 0x00, 'g', 'o', 'm', 'p', 0, 0, 0, 0, // BACKEND_IDENTIFIER (must match)
			0x10, 0x00, 0x07, 0x80,
			0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 9, 0, 0, 0,
		}},
		{"disconnect index 3", genlCmdDisconnect, func() ([]byte, error) { return encodeIndex(3) }, []byte{
			0x02, 0x01, 0x00, 0x00, // NBD_CMD_DISCONNECT
			0x08, 0x00, 0x01, 0x00, 3, 0, 0, 0, // INDEX
		}},
		{"status of index 300", genlCmdStatus, func() ([]byte, error) { return encodeIndex(300) }, []byte{
			0x05, 0x01, 0x00, 0x00, // NBD_CMD_STATUS
			0x08, 0x00, 0x01, 0x00, 0x2c, 0x01, 0, 0, // INDEX 300
		}},
		{"status of all", genlCmdStatus, func() ([]byte, error) { return encodeIndex(-1) }, []byte{
			0x05, 0x01, 0x00, 0x00, // no attributes
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attrs, err := tc.encode()
			require.NoError(t, err)
			require.Equal(t, tc.want, genlBytes(t, tc.cmd, attrs))
		})
	}
	_, err := encodeReconfigure(kernTestParams) // index -1
	require.Error(t, err)
}

// statusReply is NBD_CMD_STATUS's answer for nbd2 (connected) and nbd0.
var statusReply = []byte{
	0x2c, 0x00, 0x09, 0x00, // DEVICE_LIST, 44 bytes (the kernel sets no NESTED flag)
	0x14, 0x00, 0x01, 0x00, // DEVICE_ITEM, 20 bytes
	0x08, 0x00, 0x01, 0x00, 2, 0, 0, 0, // DEVICE_INDEX 2
	0x05, 0x00, 0x02, 0x00, 1, 0, 0, 0, // DEVICE_CONNECTED u8 1 + pad
	0x14, 0x00, 0x01, 0x00,
	0x08, 0x00, 0x01, 0x00, 0, 0, 0, 0, // DEVICE_INDEX 0
	0x05, 0x00, 0x02, 0x00, 0, 0, 0, 0, // DEVICE_CONNECTED 0
}

func TestDecodeReplies(t *testing.T) {
	skipBigEndian(t)
	msg := func(cmd genlCommand, data []byte) []genetlink.Message {
		return []genetlink.Message{{Header: genetlink.Header{Command: uint8(cmd), Version: 1}, Data: data}}
	}
	idx, err := decodeConnectReply(msg(genlCmdConnect, []byte{0x08, 0x00, 0x01, 0x00, 5, 0, 0, 0}))
	require.NoError(t, err)
	require.Equal(t, 5, idx)
	_, err = decodeConnectReply(nil)
	require.ErrorContains(t, err, "no device index")
	_, err = decodeConnectReply(msg(genlCmdConnect, []byte{0x08, 0x00, 0x01})) // truncated
	require.Error(t, err)
	_, err = decodeConnectReply(msg(genlCmdConnect, []byte{0x06, 0x00, 0x01, 0x00, 5, 0, 0, 0})) // u32 in 2 bytes
	require.Error(t, err)

	devs, err := decodeStatus(msg(genlCmdStatus, statusReply))
	require.NoError(t, err)
	require.Equal(t, []DeviceStatus{{Index: 0}, {Index: 2, Connected: true}}, devs)
	require.Equal(t, 0, freeIndexOf(devs))
	require.Equal(t, 3, freeIndexOf([]DeviceStatus{{0, true}, {1, true}, {2, true}}))
	require.Equal(t, 1, freeIndexOf([]DeviceStatus{{0, true}, {1, false}}))
	require.Equal(t, 0, freeIndexOf(nil))
	for n := range len(statusReply) {
		if n == 0 {
			continue
		}
		_, err := decodeStatus(msg(genlCmdStatus, statusReply[:n]))
		require.Error(t, err, "truncated to %d bytes", n)
	}
	noIndex := []byte{
		0x10, 0x00, 0x09, 0x00, // DEVICE_LIST
		0x0c, 0x00, 0x01, 0x00, // DEVICE_ITEM without DEVICE_INDEX
		0x05, 0x00, 0x02, 0x00, 1, 0, 0, 0,
	}
	_, err = decodeStatus(msg(genlCmdStatus, noIndex))
	require.ErrorContains(t, err, "without an index")
}

// fakeGenl is a kernel's nbd netlink family in a test: it records requests
// and answers them with handle.
type fakeGenl struct {
	mu      sync.Mutex
	reqs    []genetlink.Message
	flags   []netlink.HeaderFlags
	handle  func(req genetlink.Message) ([]genetlink.Message, error)
	missing bool // no "nbd" family
}

func (k *fakeGenl) client() genlClient {
	fn := func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if greq.Header.Command == 0 && len(greq.Data) == 0 {
			return nil, nil // nltest polling for more after an empty answer
		}
		k.mu.Lock()
		k.reqs = append(k.reqs, greq)
		k.flags = append(k.flags, nreq.Header.Flags)
		k.mu.Unlock()
		return k.handle(greq)
	}
	if !k.missing {
		fn = genltest.ServeFamily(genetlink.Family{ID: 0x1d, Version: 1, Name: "nbd"}, fn)
	} else {
		fn = func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
			return nil, genltest.Error(int(unix.ENOENT))
		}
	}
	return genlClient{dial: func() (*genetlink.Conn, error) { return genltest.Dial(fn), nil }}
}

func (k *fakeGenl) requests() []genetlink.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]genetlink.Message(nil), k.reqs...)
}

func reply(cmd genlCommand, data []byte) []genetlink.Message {
	return []genetlink.Message{{Header: genetlink.Header{Command: uint8(cmd), Version: 1}, Data: data}}
}

func TestGenlClient(t *testing.T) {
	skipBigEndian(t)
	ctx := context.Background()
	k := &fakeGenl{handle: func(req genetlink.Message) ([]genetlink.Message, error) {
		switch genlCommand(req.Header.Command) {
		case genlCmdConnect:
			return reply(genlCmdConnect, []byte{0x08, 0x00, 0x01, 0x00, 7, 0, 0, 0}), nil
		case genlCmdStatus:
			return reply(genlCmdStatus, statusReply), nil
		case genlCmdDisconnect:
			return nil, genltest.Error(int(unix.EINVAL))
		}
		return nil, nil // RECONFIGURE: the ACK only
	}}
	g := k.client()
	idx, err := g.connect(ctx, kernTestParams)
	require.NoError(t, err)
	require.Equal(t, 7, idx)
	require.NoError(t, g.reconfigure(ctx, netlinkParams{index: 7, fds: []int{3}}))
	devs, err := g.status(ctx, -1)
	require.NoError(t, err)
	require.Len(t, devs, 2)
	err = g.disconnect(ctx, 7)
	require.ErrorIs(t, err, unix.EINVAL)
	require.ErrorContains(t, err, "NBD_CMD_DISCONNECT")
	require.Error(t, g.disconnect(ctx, -1))

	reqs := k.requests()
	require.Len(t, reqs, 4)
	attrs, _ := encodeConnect(kernTestParams)
	require.Equal(t, genlBytes(t, genlCmdConnect, attrs), genlBytes(t, genlCommand(reqs[0].Header.Command), reqs[0].Data))
	for i, f := range k.flags {
		require.Equal(t, netlink.Request|netlink.Acknowledge, f, "request %d", i)
	}

	missing := (&fakeGenl{missing: true}).client()
	_, err = missing.status(ctx, -1)
	require.ErrorIs(t, err, ErrNetlinkUnavailable)
	require.ErrorIs(t, err, unix.ENOENT)
}

// kernSock is the kernel's end of one socketpair in a test: it speaks the
// transmission phase as the nbd driver does.
type kernSock struct {
	t      *testing.T
	c      net.Conn
	cookie uint64
}

// newKernSock dups fd (a socket the code under test hands to the "kernel").
func newKernSock(t *testing.T, fd int) *kernSock {
	dup, err := unix.Dup(fd)
	require.NoError(t, err)
	f := os.NewFile(uintptr(dup), "kernel-end")
	c, err := net.FileConn(f)
	f.Close()
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	return &kernSock{t: t, c: c}
}

func (k *kernSock) send(q nbd.Request, payload []byte) nbd.SimpleReply {
	k.t.Helper()
	k.cookie++
	q.Cookie = k.cookie
	b, _ := q.AppendBinary(nil)
	_, err := k.c.Write(append(b, payload...))
	require.NoError(k.t, err)
	var hdr [nbd.SimpleReplyLen]byte
	_, err = io.ReadFull(k.c, hdr[:])
	require.NoError(k.t, err)
	r, err := nbd.ParseSimpleReply(hdr[:])
	require.NoError(k.t, err)
	require.Equal(k.t, k.cookie, r.Cookie)
	return r
}

func (k *kernSock) write(off uint64, p []byte) {
	k.t.Helper()
	r := k.send(nbd.Request{Type: nbd.CmdWrite, Flags: nbd.CmdFlagFUA, Offset: off, Length: uint32(len(p))}, p)
	require.Zero(k.t, r.Errno)
}

func (k *kernSock) read(off uint64, n int) []byte {
	k.t.Helper()
	r := k.send(nbd.Request{Type: nbd.CmdRead, Offset: off, Length: uint32(n)}, nil)
	require.Zero(k.t, r.Errno)
	p := make([]byte, n)
	_, err := io.ReadFull(k.c, p)
	require.NoError(k.t, err)
	return p
}

// disc sends NBD_CMD_DISC and shuts the socket, as the kernel does on a
// disconnect.
func (k *kernSock) disc() {
	b, _ := nbd.Request{Type: nbd.CmdDisc}.AppendBinary(nil)
	k.c.Write(b)
	k.c.Close()
}

// socketFDs extracts the NBD_SOCK_FD values of a CONNECT or RECONFIGURE.
func socketFDs(t *testing.T, attrs []byte) []int {
	var fds []int
	ad, err := netlink.NewAttributeDecoder(attrs)
	require.NoError(t, err)
	for ad.Next() {
		if genlAttr(ad.Type()) != attrSockets {
			continue
		}
		ad.Nested(func(list *netlink.AttributeDecoder) error {
			for list.Next() {
				list.Nested(func(item *netlink.AttributeDecoder) error {
					for item.Next() {
						fds = append(fds, int(item.Uint32()))
					}
					return nil
				})
			}
			return nil
		})
	}
	require.NoError(t, ad.Err())
	return fds
}

// netlinkKernel answers CONNECT and RECONFIGURE by taking the sockets over,
// DISCONNECT by sending NBD_CMD_DISC on them.
type netlinkKernel struct {
	fakeGenl
	t       *testing.T
	index   uint32
	connErr error
	smu     sync.Mutex
	socks   []*kernSock
}

func newNetlinkKernel(t *testing.T, index uint32) *netlinkKernel {
	k := &netlinkKernel{t: t, index: index}
	k.handle = k.serve
	return k
}

func (k *netlinkKernel) serve(req genetlink.Message) ([]genetlink.Message, error) {
	switch genlCommand(req.Header.Command) {
	case genlCmdConnect, genlCmdReconfigure:
		if k.connErr != nil {
			return nil, k.connErr
		}
		k.smu.Lock()
		for _, fd := range socketFDs(k.t, req.Data) {
			k.socks = append(k.socks, newKernSock(k.t, fd))
		}
		k.smu.Unlock()
		if genlCommand(req.Header.Command) == genlCmdReconfigure {
			return nil, nil
		}
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(uint16(attrIndex), k.index)
		b, err := ae.Encode()
		return reply(genlCmdConnect, b), err
	case genlCmdDisconnect:
		k.smu.Lock()
		defer k.smu.Unlock()
		for _, s := range k.socks {
			s.disc()
		}
		k.socks = nil
	}
	return nil, nil
}

func (k *netlinkKernel) sockets() []*kernSock {
	k.smu.Lock()
	defer k.smu.Unlock()
	return append([]*kernSock(nil), k.socks...)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestAttachNetlinkFake(t *testing.T) {
	skipBigEndian(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := nbd.NewMemory(1 << 20)
	root := t.TempDir()
	p, err := AttachConfig{Index: -1, Connections: 2, SysRoot: root, DevRoot: root}.resolve(b)
	require.NoError(t, err)
	k := newNetlinkKernel(t, 5)
	d, err := attachNetlink(ctx, &nbd.Server{}, b, p, discard(), k.client())
	require.NoError(t, err)
	require.Equal(t, 5, d.Index())
	require.Equal(t, filepath.Join(root, "nbd5"), d.Path())
	require.Equal(t, AttachNetlink, d.Mode())

	socks := k.sockets()
	require.Len(t, socks, 2)
	data := bytes.Repeat([]byte("gomp"), 1024)
	socks[0].write(8192, data)
	require.Equal(t, data, socks[1].read(8192, len(data))) // multi-conn: one store

	require.NoError(t, d.Disconnect(ctx))
	require.NoError(t, d.Wait())
	require.NoError(t, d.Disconnect(ctx)) // again: only waits
	reqs := k.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, uint8(genlCmdDisconnect), reqs[1].Header.Command)
	require.Equal(t, genlBytes(t, genlCmdDisconnect, []byte{8, 0, 1, 0, 5, 0, 0, 0}),
		genlBytes(t, genlCmdDisconnect, reqs[1].Data))
}

func TestAttachNetlinkRefused(t *testing.T) {
	skipBigEndian(t)
	ctx := context.Background()
	b := nbd.NewMemory(1 << 20)
	p, err := AttachConfig{Index: 2}.resolve(b)
	require.NoError(t, err)
	k := newNetlinkKernel(t, 2)
	k.connErr = genltest.Error(int(unix.EBUSY))
	_, err = attachNetlink(ctx, &nbd.Server{}, b, p, discard(), k.client())
	require.ErrorIs(t, err, unix.EBUSY)
	require.ErrorContains(t, err, "/dev/nbd2")

	_, err = attachNetlink(ctx, &nbd.Server{}, b, p, discard(), (&fakeGenl{missing: true}).client())
	require.ErrorIs(t, err, ErrNetlinkUnavailable)
}

func TestReconfigureFake(t *testing.T) {
	skipBigEndian(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := nbd.NewMemory(1 << 20)
	p, err := AttachConfig{Index: 4, DeadConnTimeout: 90 * time.Second, BackendID: "gomp:wwid"}.resolve(b)
	require.NoError(t, err)
	k := newNetlinkKernel(t, 4)
	d, err := reconfigure(ctx, &nbd.Server{}, b, p, discard(), k.client())
	require.NoError(t, err)
	require.Equal(t, 4, d.Index())
	socks := k.sockets()
	require.Len(t, socks, 1)
	socks[0].write(0, []byte("after restart"))
	require.NoError(t, d.Disconnect(ctx))
	require.NoError(t, d.Wait())
	req := k.requests()[0]
	require.Equal(t, uint8(genlCmdReconfigure), req.Header.Command)
	want, err := encodeReconfigure(p.netlink(socketFDs(t, req.Data)))
	require.NoError(t, err)
	require.Equal(t, want, req.Data)
	_, err = Reconfigure(ctx, &nbd.Server{}, b, AttachConfig{Index: -1})
	require.Error(t, err)
}

// ioctlKernel is the kernel's nbd ioctl interface in a test: devices are
// fake file descriptors 1000+N, sysfs lives under sysRoot.
type ioctlKernel struct {
	t       *testing.T
	sysRoot string
	busy    map[int]bool  // devices answering NBD_SET_SOCK with EBUSY
	noPid   bool          // NBD_DO_IT never shows the device running
	late    time.Duration // NBD_DO_IT sets the capacity this long after the pid file, as the kernel does (later)

	mu        sync.Mutex
	calls     []string // "nbdN REQ arg" (socket fds as "sock")
	socks     map[int][]*kernSock
	stop      map[int]chan struct{}
	allMasked bool // every catchable signal was blocked in NBD_DO_IT
}

func newIoctlKernel(t *testing.T, devices ...int) *ioctlKernel {
	k := &ioctlKernel{t: t, sysRoot: t.TempDir(), busy: map[int]bool{},
		socks: map[int][]*kernSock{}, stop: map[int]chan struct{}{}}
	for _, n := range devices {
		writeSys(t, k.sysRoot, n, "size", "0")
	}
	return k
}

func writeSys(t *testing.T, root string, index int, name, value string) {
	path := filepath.Join(blockDir(root, index), name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(value+"\n"), 0o644))
}

func (k *ioctlKernel) sys() ioctlSys {
	return ioctlSys{
		open: func(path string) (int, error) {
			n, err := strconv.Atoi(filepath.Base(path)[3:])
			if err != nil {
				return -1, err
			}
			return 1000 + n, nil
		},
		ioctl: k.ioctl,
		close: func(int) error { return nil },
	}
}

func (k *ioctlKernel) record(n int, req ioctlRequest, arg string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "nbd"+strconv.Itoa(n)+" "+req.String()+" "+arg)
}

func (k *ioctlKernel) ioctl(fd int, req ioctlRequest, arg uintptr) error {
	n := fd - 1000
	switch req {
	case nbdSetSock:
		k.record(n, req, "sock")
		if k.busy[n] {
			return unix.EBUSY
		}
		k.mu.Lock()
		k.socks[n] = append(k.socks[n], newKernSock(k.t, int(arg)))
		k.stop[n] = make(chan struct{})
		k.mu.Unlock()
		return nil
	case nbdDoIt:
		k.record(n, req, "0")
		return k.doIt(n)
	case nbdDisconnect:
		k.record(n, req, "0")
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, s := range k.socks[n] {
			s.disc()
		}
		close(k.stop[n])
		return nil
	}
	k.record(n, req, strconv.FormatUint(uint64(arg), 10))
	return nil
}

func (k *ioctlKernel) doIt(n int) error {
	var cur unix.Sigset_t
	require.NoError(k.t, unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur))
	k.mu.Lock()
	k.allMasked = true
	for sig := 1; sig <= 64; sig++ {
		blocked := cur.Val[(sig-1)/64]&(1<<((sig-1)%64)) != 0
		if !blocked && sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
			k.allMasked = false
		}
	}
	stop := k.stop[n]
	k.mu.Unlock()
	if !k.noPid {
		writeSys(k.t, k.sysRoot, n, "pid", "4242")
	}
	time.Sleep(k.late)
	writeSys(k.t, k.sysRoot, n, "size", "2048")
	<-stop
	os.Remove(filepath.Join(blockDir(k.sysRoot, n), "pid"))
	return nil
}

func (k *ioctlKernel) log() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}

func TestAttachIoctlFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k := newIoctlKernel(t, 0, 1, 2)
	writeSys(t, k.sysRoot, 0, "pid", "1") // nbd0 runs: not a candidate
	k.busy[1] = true                      // nbd1 is being set up by someone else
	k.late = 50 * time.Millisecond        // Attach must wait for the size too
	b := nbd.NewMemory(1 << 20)
	p, err := AttachConfig{Index: -1, Timeout: 30 * time.Second, SysRoot: k.sysRoot, DevRoot: "/fake"}.resolve(b)
	require.NoError(t, err)
	d, err := attachIoctl(ctx, &nbd.Server{}, b, p, discard(), k.sys())
	require.NoError(t, err)
	require.Equal(t, 2, d.Index())
	require.Equal(t, "/fake/nbd2", d.Path())
	info, err := ReadDeviceInfo(k.sysRoot, 2)
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), info.Size)
	k.mu.Lock()
	sock := k.socks[2][0]
	k.mu.Unlock()
	sock.write(512, []byte("via ioctl"))
	require.Equal(t, []byte("via ioctl"), sock.read(512, 9))

	require.NoError(t, d.Disconnect(ctx))
	require.NoError(t, d.Wait())
	require.True(t, k.allMasked, "signals not all blocked on the NBD_DO_IT thread")
	flags := strconv.Itoa(int(nbd.ExportFlags(b)))
	require.Equal(t, []string{
		"nbd1 NBD_SET_BLKSIZE 512", "nbd1 NBD_SET_SIZE_BLOCKS 2048", "nbd1 NBD_SET_FLAGS " + flags,
		"nbd1 NBD_SET_TIMEOUT 30", "nbd1 NBD_SET_SOCK sock", "nbd1 NBD_CLEAR_SOCK 0", // EBUSY: undone
		"nbd2 NBD_SET_BLKSIZE 512", "nbd2 NBD_SET_SIZE_BLOCKS 2048", "nbd2 NBD_SET_FLAGS " + flags,
		"nbd2 NBD_SET_TIMEOUT 30", "nbd2 NBD_SET_SOCK sock", "nbd2 NBD_DO_IT 0",
		"nbd2 NBD_DISCONNECT 0", "nbd2 NBD_CLEAR_SOCK 0",
	}, k.log())
	require.NoError(t, d.Disconnect(ctx)) // after NBD_DO_IT returned: nothing sent
	require.Len(t, k.log(), 14)
}

func TestAttachIoctlErrors(t *testing.T) {
	ctx := context.Background()
	b := nbd.NewMemory(1 << 20)
	k := newIoctlKernel(t, 0)
	k.busy[0] = true
	p, err := AttachConfig{Index: 0, SysRoot: k.sysRoot}.resolve(b)
	require.NoError(t, err)
	_, err = attachIoctl(ctx, &nbd.Server{}, b, p, discard(), k.sys())
	require.ErrorIs(t, err, unix.EBUSY)
	require.ErrorContains(t, err, "NBD_SET_SOCK")

	p.index = -1
	_, err = attachIoctl(ctx, &nbd.Server{}, b, p, discard(), k.sys()) // the only idle one is busy
	require.ErrorIs(t, err, unix.EBUSY)

	empty := newIoctlKernel(t)
	p.sysRoot = empty.sysRoot
	_, err = attachIoctl(ctx, &nbd.Server{}, b, p, discard(), empty.sys())
	require.ErrorContains(t, err, "no idle nbd device")

	failOpen := k.sys()
	failOpen.open = func(string) (int, error) { return -1, unix.ENOENT }
	p.index = 0
	_, err = attachIoctl(ctx, &nbd.Server{}, b, p, discard(), failOpen)
	require.ErrorIs(t, err, unix.ENOENT)
}

func TestIoctlSetup(t *testing.T) {
	p := attachParams{blockSize: 4096, size: 1 << 30, flags: nbd.FlagHasFlags | nbd.FlagSendFlush}
	require.Equal(t, []ioctlStep{
		{nbdSetBlksize, 4096}, {nbdSetSizeBlocks, 1 << 18}, {nbdSetFlags, 5},
		{nbdSetSock, 11}, {nbdSetSock, 12},
	}, ioctlSetup(p, []int{11, 12}))
	require.Equal(t, "NBD_SET_SOCK", nbdSetSock.String())
	require.Equal(t, "ioctl(0xab06)", ioctlRequest(0xab06).String())
	require.Equal(t, "NBD_CMD_RECONFIGURE", genlCmdReconfigure.String())
	require.Equal(t, "genlCommand(9)", genlCommand(9).String())
	require.Equal(t, "ioctl", AttachIoctl.String())
	require.Equal(t, "AttachMode(7)", AttachMode(7).String())
}

// Backends with chosen optional interfaces.
type (
	kernBare struct{ m *nbd.MemoryBackend }
	kernRO   struct{ kernBare }
	kernBS   struct {
		kernBare
		minimum uint32
	}
)

func (b kernBare) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return b.m.ReadAtContext(ctx, p, off)
}

func (b kernBare) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	return b.m.WriteAtContext(ctx, p, off, fua)
}
func (b kernBare) Size() int64                       { return b.m.Size() }
func (kernRO) ReadOnly() bool                        { return true }
func (kernRO) CanFlush() bool                        { return true }
func (kernRO) CanFUA() bool                          { return true }
func (kernRO) CanTrim() bool                         { return true }
func (kernRO) CanZero() bool                         { return true }
func (kernRO) CanMultiConn() bool                    { return false }
func (b kernRO) Flush(context.Context) error         { return nil }
func (b kernBS) BlockSize() (uint32, uint32, uint32) { return b.minimum, 4096, 1 << 20 }

func TestResolve(t *testing.T) {
	mem := nbd.NewMemory(1 << 20)
	bare := kernBare{mem}
	p, err := AttachConfig{}.resolve(mem)
	require.NoError(t, err)
	require.Equal(t, attachParams{
		index: 0, size: 1 << 20, blockSize: 512, conns: 1, backendID: "gomp", sysRoot: "/sys", devRoot: "/dev",
		maxIO: 1280 << 10,
		flags: nbd.FlagHasFlags | nbd.FlagSendFlush | nbd.FlagSendFUA | nbd.FlagSendTrim | nbd.FlagSendWriteZeroes | nbd.FlagCanMultiConn,
	}, p)

	p, err = AttachConfig{Index: -1, Timeout: 1500 * time.Millisecond, DeadConnTimeout: time.Minute,
		DestroyOnDisconnect: true, DisconnectOnClose: true, Connections: 4}.resolve(mem)
	require.NoError(t, err)
	require.Equal(t, uint64(2), p.timeout)
	require.Equal(t, uint64(60), p.deadConn)
	require.Equal(t, cflagDestroyOnDisconnect|cflagDisconnectOnClose, p.clientFlags)
	require.Equal(t, -1, p.index)

	p, err = AttachConfig{}.resolve(bare)
	require.NoError(t, err)
	require.Equal(t, nbd.FlagHasFlags, p.flags)
	p, err = AttachConfig{}.resolve(kernRO{bare})
	require.NoError(t, err)
	require.Equal(t, nbd.FlagHasFlags|nbd.FlagReadOnly|nbd.FlagSendFlush, p.flags)
	p, err = AttachConfig{Flags: nbd.FlagSendFlush}.resolve(mem) // explicit flags; HAS_FLAGS added
	require.NoError(t, err)
	require.Equal(t, nbd.FlagHasFlags|nbd.FlagSendFlush, p.flags)
	for minimum, want := range map[uint32]uint32{1: 512, 512: 512, 1000: 1024, 4096: 4096} {
		p, err = AttachConfig{}.resolve(kernBS{bare, minimum})
		require.NoError(t, err)
		require.Equal(t, want, p.blockSize, "minimum %d", minimum)
	}

	bad := []struct {
		name string
		cfg  AttachConfig
		b    nbd.Backend
		want string
	}{
		{"nil backend", AttachConfig{}, nil, "nil Backend"},
		{"index", AttachConfig{Index: -2}, mem, "invalid index"},
		{"block size", AttachConfig{BlockSize: 1000}, mem, "block size 1000"},
		{"small block size", AttachConfig{BlockSize: 256}, mem, "block size 256"},
		{"backend block size", AttachConfig{}, kernBS{bare, 1 << 20}, "block size 1048576"},
		{"size", AttachConfig{Size: 1000}, mem, "size 1000"},
		{"empty", AttachConfig{}, nbd.NewMemory(0), "size 0"},
		{"multi-conn", AttachConfig{Connections: 2}, bare, "CAN_MULTI_CONN"},
		{"too many", AttachConfig{Connections: 65}, mem, "65 connections"},
		{"timeout", AttachConfig{Timeout: -1}, mem, "negative Timeout"},
		{"dead conn", AttachConfig{DeadConnTimeout: -1}, mem, "negative DeadConnTimeout"},
	}
	for _, tc := range bad {
		_, err := tc.cfg.resolve(tc.b)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err = Attach(context.Background(), &nbd.Server{}, nil, AttachConfig{})
	require.Error(t, err)
	_, err = Attach(context.Background(), nil, mem, AttachConfig{})
	require.Error(t, err)
}

func TestLimitRequests(t *testing.T) {
	bare := kernBare{nbd.NewMemory(1 << 20)}
	cases := []struct {
		name  string
		cfg   AttachConfig
		b     nbd.Backend
		maxRq uint32 // the server's MaxRequest
		hw    string // queue/max_hw_sectors_kb, "" for none
		want  string
	}{
		{"default", AttachConfig{}, bare, 0, "32768", "1280"},
		{"max_hw_sectors_kb", AttachConfig{}, bare, 0, "512", "512"},
		{"no max_hw_sectors_kb", AttachConfig{MaxIO: 4 << 20}, bare, 0, "", "4096"},
		{"backend maximum", AttachConfig{}, kernBS{bare, 512}, 0, "32768", "1024"},
		{"server MaxRequest", AttachConfig{MaxIO: 8 << 20}, bare, 256 << 10, "32768", "256"},
	}
	for _, tc := range cases {
		root := t.TempDir()
		tc.cfg.SysRoot, tc.cfg.Index = root, 3
		if tc.hw != "" {
			writeSys(t, root, 3, "queue/max_hw_sectors_kb", tc.hw)
		}
		writeSys(t, root, 3, "queue/max_sectors_kb", "128")
		p, err := tc.cfg.resolve(tc.b)
		require.NoError(t, err, tc.name)
		d := newDevice(context.Background(), AttachNetlink, p, discard())
		d.setIndex(3)
		d.limitRequests(&nbd.Server{MaxRequest: tc.maxRq})
		got, err := os.ReadFile(filepath.Join(blockDir(root, 3), "queue", "max_sectors_kb"))
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, string(got), tc.name)
	}
	// no such device: logged, nothing created
	root := t.TempDir()
	p, err := AttachConfig{SysRoot: root, Index: 7}.resolve(bare)
	require.NoError(t, err)
	d := newDevice(context.Background(), AttachNetlink, p, discard())
	d.setIndex(7)
	d.limitRequests(&nbd.Server{})
	_, err = os.Stat(blockDir(root, 7))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestSysfs(t *testing.T) {
	root := t.TempDir()
	writeSys(t, root, 0, "size", "131072")
	writeSys(t, root, 0, "pid", "321")
	writeSys(t, root, 0, "backend", "gomp")
	writeSys(t, root, 0, "ro", "0")
	writeSys(t, root, 0, "queue/logical_block_size", "4096")
	writeSys(t, root, 1, "size", "0")
	writeSys(t, root, 10, "size", "0")
	writeSys(t, root, 2, "size", "zero")
	for _, name := range []string{"sda", "nbd", "nbdx", "nbd01", "loop0"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, "block", name), 0o755))
	}
	info, err := ReadDeviceInfo(root, 0)
	require.NoError(t, err)
	require.Equal(t, DeviceInfo{Index: 0, Size: 64 << 20, LogicalBlockSize: 4096, PID: 321, Backend: "gomp"}, info)
	require.True(t, info.Running())
	info, err = ReadDeviceInfo(root, 1)
	require.NoError(t, err)
	require.False(t, info.Running())
	_, err = ReadDeviceInfo(root, 3)
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = ReadDeviceInfo(root, 2)
	require.ErrorContains(t, err, "parse")
	writeSys(t, root, 1, "pid", "x")
	_, err = ReadDeviceInfo(root, 1)
	require.Error(t, err)
	os.Remove(filepath.Join(blockDir(root, 1), "pid"))

	all, err := ListDevices(root)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2, 10}, all)
	idle, err := IdleDevices(root)
	require.NoError(t, err)
	require.Equal(t, []int{1, 10}, idle) // nbd0 runs, nbd2 is unreadable
	none, err := ListDevices(filepath.Join(root, "missing"))
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestLoadModule(t *testing.T) {
	root := t.TempDir()
	var probed []string
	probe := func(name string) error {
		probed = append(probed, name)
		return os.MkdirAll(filepath.Join(root, "module", name), 0o755)
	}
	require.NoError(t, loadModule(root, probe))
	require.Equal(t, []string{"nbd"}, probed)
	require.NoError(t, loadModule(root, probe)) // present: no probe
	require.Len(t, probed, 1)

	other := t.TempDir()
	err := loadModule(other, func(string) error { return unix.EPERM })
	require.ErrorIs(t, err, unix.EPERM)
	require.ErrorContains(t, err, "load module nbd")
	err = loadModule(other, func(string) error { return nil }) // "loaded" but no sysfs dir
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestParseMountOptions(t *testing.T) {
	cases := []struct {
		opts  string
		flags uintptr
		data  string
	}{
		{"", 0, ""},
		{"defaults", 0, ""},
		{"ro,noatime", unix.MS_RDONLY | unix.MS_NOATIME, ""},
		{"ro, rw ,discard,errors=remount-ro,nosuid", unix.MS_NOSUID, "discard,errors=remount-ro"},
		{"sync,nodev,noexec,lazytime", unix.MS_SYNCHRONOUS | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_LAZYTIME, ""},
		{"data=journal,,", 0, "data=journal"},
	}
	for _, tc := range cases {
		flags, data := parseMountOptions(tc.opts)
		require.Equal(t, tc.flags, flags, tc.opts)
		require.Equal(t, tc.data, data, tc.opts)
	}
	require.ErrorContains(t, Mount("/dev/nbd0", t.TempDir(), "", ""), "no file-system type")
}

func TestMountedIn(t *testing.T) {
	mounts := "proc /proc proc rw 0 0\n/dev/nbd3 /srv/data ext4 rw,relatime 0 0\n"
	require.True(t, mountedIn(mounts, "/dev/nbd3", "/srv/data/"))
	require.False(t, mountedIn(mounts, "/dev/nbd3", "/srv"))
	require.False(t, mountedIn(mounts, "/dev/nbd4", "/srv/data"))
	require.False(t, mountedIn("", "/dev/nbd3", "/srv/data"))
}

// TestAttachOrReconfigure: a device that sysfs shows configured with our
// backend identifier is reconfigured, any other attached; a nil Server
// makes each path fail with its own message before touching the kernel.
func TestAttachOrReconfigure(t *testing.T) {
	root := t.TempDir()
	writeSys(t, root, 3, "size", "2048")
	writeSys(t, root, 3, "backend", BackendID("WWID"))
	writeSys(t, root, 4, "size", "0")
	writeSys(t, root, 4, "backend", BackendID("WWID"))
	mem := nbd.NewMemory(1 << 20)
	try := func(index int, id string) error {
		_, err := AttachOrReconfigure(context.Background(), nil, mem,
			AttachConfig{Index: index, BackendID: id, SysRoot: root, Logger: discard()})
		return err
	}
	require.Equal(t, "gomp:WWID", BackendID("WWID"))
	require.ErrorContains(t, try(3, "gomp:WWID"), "reconfigure: nil Server")
	require.ErrorContains(t, try(3, "gomp:other"), "attach: nil Server")
	require.ErrorContains(t, try(4, "gomp:WWID"), "attach: nil Server") // not configured
	require.ErrorContains(t, try(5, "gomp:WWID"), "attach: nil Server") // no such device
	require.ErrorContains(t, try(-1, "gomp:WWID"), "attach: nil Server")
}

// TestKernelAttach attaches a memory export to a real /dev/nbdN. It needs
// root and a kernel whose nbd module is loaded or loadable; it skips
// otherwise (as on machines without nbd, where `make test-kernel` covers it
// inside a VM).
func TestKernelAttach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if err := LoadModule(""); err != nil {
		t.Skipf("no nbd module: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, mode := range []AttachMode{AttachNetlink, AttachIoctl} {
		t.Run(mode.String(), func(t *testing.T) {
			b := nbd.NewMemory(16 << 20)
			d, err := Attach(ctx, &nbd.Server{}, b, AttachConfig{Index: -1, Mode: mode})
			require.NoError(t, err)
			defer d.Disconnect(ctx)
			f, err := os.OpenFile(d.Path(), os.O_RDWR|unix.O_DIRECT, 0)
			require.NoError(t, err)
			buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
			require.NoError(t, err)
			defer unix.Munmap(buf)
			copy(buf, "kernel attach")
			_, err = f.WriteAt(buf, 8192)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			got := make([]byte, 13)
			_, err = b.ReadAtContext(ctx, got, 8192)
			require.NoError(t, err)
			require.Equal(t, "kernel attach", string(got))
			require.NoError(t, d.Disconnect(ctx))
			require.NoError(t, d.Wait())
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatal("timed out")
			}
		})
	}
}

func TestDisconnectAfterTakeover(t *testing.T) {
	skipBigEndian(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name   string
		pid    int // in sysfs once our connections ended; 0: no pid file
		wantRq bool
	}{
		{"another process attached it", 1, false},
		{"still ours, dead sockets", os.Getpid(), true},
		{"not running", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			b := nbd.NewMemory(1 << 20)
			p, err := AttachConfig{Index: 3, SysRoot: root}.resolve(b)
			require.NoError(t, err)
			k := newNetlinkKernel(t, 3)
			d, err := attachNetlink(ctx, &nbd.Server{}, b, p, discard(), k.client())
			require.NoError(t, err)
			k.serve(genetlink.Message{Header: genetlink.Header{Command: uint8(genlCmdDisconnect)}}) // e.g. nbd-client -d
			<-d.Done()
			writeSys(t, root, 3, "size", "2048")
			if tc.pid != 0 {
				writeSys(t, root, 3, "pid", strconv.Itoa(tc.pid))
			}
			require.NoError(t, d.Disconnect(ctx))
			require.Len(t, k.requests(), map[bool]int{false: 1, true: 2}[tc.wantRq])
		})
	}
	_, err := threadGroup(-5)
	require.Error(t, err)
}

func TestAttachModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := nbd.NewMemory(1 << 20)
	k := newIoctlKernel(t, 0)
	p, err := AttachConfig{SysRoot: k.sysRoot}.resolve(b)
	require.NoError(t, err)
	noFamily := (&fakeGenl{missing: true}).client()

	d, err := attachMode(ctx, &nbd.Server{}, b, p, AttachAuto, discard(), noFamily, k.sys())
	require.NoError(t, err)
	require.Equal(t, AttachIoctl, d.Mode()) // fell back
	require.NoError(t, d.Disconnect(ctx))

	_, err = attachMode(ctx, &nbd.Server{}, b, p, AttachNetlink, discard(), noFamily, k.sys())
	require.ErrorIs(t, err, ErrNetlinkUnavailable) // no fallback when netlink is asked for
	_, err = attachMode(ctx, &nbd.Server{}, b, p, AttachMode(9), discard(), noFamily, k.sys())
	require.ErrorContains(t, err, "unknown mode")
}

func TestDisconnectTimeouts(t *testing.T) {
	skipBigEndian(t)
	b := nbd.NewMemory(1 << 20)
	p, err := AttachConfig{Index: 1}.resolve(b)
	require.NoError(t, err)

	// The kernel ignores the disconnect: ctx ends it, the connections close.
	deaf := newNetlinkKernel(t, 1)
	deaf.handle = func(req genetlink.Message) ([]genetlink.Message, error) {
		if genlCommand(req.Header.Command) == genlCmdDisconnect {
			return nil, nil
		}
		return deaf.serve(req)
	}
	d, err := attachNetlink(context.Background(), &nbd.Server{}, b, p, discard(), deaf.client())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, d.Disconnect(ctx), context.DeadlineExceeded)
	<-d.Done()

	// The kernel refuses the disconnect.
	refusing := newNetlinkKernel(t, 1)
	refusing.handle = func(req genetlink.Message) ([]genetlink.Message, error) {
		if genlCommand(req.Header.Command) == genlCmdDisconnect {
			return nil, genltest.Error(int(unix.EPERM))
		}
		return refusing.serve(req)
	}
	d, err = attachNetlink(context.Background(), &nbd.Server{}, b, p, discard(), refusing.client())
	require.NoError(t, err)
	require.ErrorIs(t, d.Disconnect(context.Background()), unix.EPERM)
	<-d.Done()

	// An ioctl device that never shows up running.
	k := newIoctlKernel(t, 1)
	k.noPid = true
	p.sysRoot = k.sysRoot
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = attachIoctl(ctx2, &nbd.Server{}, b, p, discard(), k.sys())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, k.log(), "nbd1 NBD_DISCONNECT 0")
}

func TestMountErrors(t *testing.T) {
	dir := t.TempDir()
	require.Error(t, Mount(filepath.Join(dir, "no-such-device"), dir, "ext4", "ro"))
	require.Error(t, Unmount(dir)) // nothing mounted there
}

func TestSocketPairBuffers(t *testing.T) {
	pairs, err := newSocketPairs(1)
	require.NoError(t, err)
	defer closePairs(pairs)
	if os.Geteuid() != 0 {
		t.Skip("SO_SNDBUFFORCE needs CAP_NET_ADMIN")
	}
	for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
		v, err := unix.GetsockoptInt(pairs[0].kernelFD, unix.SOL_SOCKET, opt)
		require.NoError(t, err)
		require.GreaterOrEqual(t, v, nbd.SocketBufferSize, "kernel end, option %d", opt)
		require.GreaterOrEqual(t, sockOpt(t, pairs[0].conn, opt), nbd.SocketBufferSize, "server end, option %d", opt)
	}
}

// sockOpt reads the SOL_SOCKET option opt of nc.
func sockOpt(t *testing.T, nc net.Conn, opt int) int {
	raw, err := nc.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	v, gerr := 0, error(nil)
	require.NoError(t, raw.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) }))
	require.NoError(t, gerr)
	return v
}
