package nbd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// AttachMode selects the kernel interface Attach uses.
type AttachMode int

// Attach modes.
const (
	// AttachAuto uses netlink and falls back to the ioctls when the kernel
	// has no nbd netlink family.
	AttachAuto AttachMode = iota
	// AttachNetlink uses the "nbd" generic-netlink family only.
	AttachNetlink
	// AttachIoctl uses NBD_SET_SOCK and NBD_DO_IT only.
	AttachIoctl
)

// String returns "auto", "netlink" or "ioctl", or "AttachMode(N)" for an
// unknown value.
func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case AttachNetlink:
		return "netlink"
	case AttachIoctl:
		return "ioctl"
	}
	return "AttachMode(" + strconv.Itoa(int(m)) + ")"
}

// Limits of the kernel's nbd driver.
const (
	minKernelBlockSize = 512
	maxConnections     = 64 // a sanity bound; the kernel takes more, each one a hardware queue
)

// AttachConfig describes how a Backend is attached to a kernel /dev/nbdN.
// Zero fields take the defaults given with each field, except Index, whose
// zero value names /dev/nbd0.
type AttachConfig struct {
	// Index is N of /dev/nbdN, or -1 to let the kernel pick a free device
	// (netlink) or use the first idle one (ioctl).
	Index int
	// Size in bytes; default Backend.Size(). It must be a multiple of
	// BlockSize.
	Size int64
	// BlockSize is the device's logical block size, a power of two from 512
	// to the page size; default the backend's BlockSizer minimum raised to
	// 512 and to a power of two (so a 512-byte-sector LUN stays one, and a
	// 4 KiB one 4 KiB), or 512.
	BlockSize uint32
	// Flags are the transmission flags the kernel is told (it sends FLUSH,
	// FUA, TRIM only when told it may); default ExportFlags(b). HAS_FLAGS
	// is always added.
	Flags TransmissionFlags
	// Connections is the number of sockets, one socketpair per kernel
	// hardware queue (default 1). More than one needs CAN_MULTI_CONN.
	Connections int
	// Timeout is the kernel's per-request timeout, rounded up to seconds,
	// at most 4294967 s; zero keeps the kernel's default (30 s). When it
	// runs out the kernel requeues the request on another connection (or,
	// with one connection and a zero timeout, waits on): a server that
	// retries requests itself should give a timeout beyond its own.
	Timeout time.Duration
	// DeadConnTimeout (netlink only) is how long the kernel queues I/O
	// after every socket died, waiting for Reconfigure to hand it new ones,
	// e.g. from a restarted process; rounded up to seconds. Zero: I/O fails
	// at once.
	DeadConnTimeout time.Duration
	// BackendID (netlink only) is shown in /sys/block/nbdN/backend, and
	// Reconfigure must repeat it. Default "gomp".
	BackendID string
	// DestroyOnDisconnect (netlink only) deletes the device once it is
	// disconnected; DisconnectOnClose disconnects it when its last opener
	// closes it.
	DestroyOnDisconnect, DisconnectOnClose bool
	// MaxIO is the largest read or write the kernel sends in one request,
	// in bytes, set as queue/max_sectors_kb once the device runs (rounded
	// down to KiB, capped by max_hw_sectors_kb). Default: what the block
	// layer gives a SCSI disk, 1280 KiB, capped by the backend's maximum
	// block size and the server's MaxRequest. The nbd driver starts every
	// device at 128 KiB, which splits a 1 MiB I/O into eight requests,
	// each a round trip through the server.
	MaxIO uint32
	// Mode picks netlink or the ioctls (default AttachAuto).
	Mode AttachMode
	// SysRoot and DevRoot replace "/sys" and "/dev" (for tests).
	SysRoot, DevRoot string
	// Logger receives attach events (fallbacks, disconnects); nil discards.
	Logger *slog.Logger
}

// attachParams is an AttachConfig resolved against a Backend.
type attachParams struct {
	index       int
	size        uint64
	blockSize   uint32
	flags       TransmissionFlags
	conns       int
	timeout     uint64 // seconds
	deadConn    uint64 // seconds
	backendID   string
	clientFlags nbdClientFlags
	maxIO       uint32 // bytes; capped by the server's MaxRequest at attach
	sysRoot     string
	devRoot     string
}

// resolve applies defaults and checks cfg against b and the kernel's limits.
func (cfg AttachConfig) resolve(b Backend) (attachParams, error) {
	if b == nil {
		return attachParams{}, errors.New("nbd: attach: nil Backend")
	}
	p := attachParams{
		index: cfg.Index, flags: cfg.Flags | FlagHasFlags, conns: max(cfg.Connections, 1),
		backendID: cfg.BackendID, sysRoot: rootOr(cfg.SysRoot, "/sys"), devRoot: rootOr(cfg.DevRoot, "/dev"),
	}
	if cfg.Flags == 0 {
		p.flags = ExportFlags(b)
	}
	if p.backendID == "" {
		p.backendID = defaultBackendID
	}
	if cfg.DestroyOnDisconnect {
		p.clientFlags |= cflagDestroyOnDisconnect
	}
	if cfg.DisconnectOnClose {
		p.clientFlags |= cflagDisconnectOnClose
	}
	var err error
	if p.timeout, err = seconds("Timeout", cfg.Timeout); err != nil {
		return p, err
	}
	if p.timeout > maxKernelTimeout {
		return p, fmt.Errorf("nbd: attach: Timeout %v beyond the kernel's limit of %d s", cfg.Timeout, maxKernelTimeout)
	}
	if p.deadConn, err = seconds("DeadConnTimeout", cfg.DeadConnTimeout); err != nil {
		return p, err
	}
	if err := p.checkShape(cfg, b); err != nil {
		return p, err
	}
	p.maxIO = resolveMaxIO(cfg.MaxIO, b)
	return p, nil
}

// defaultMaxIO is BLK_DEF_MAX_SECTORS, the block layer's default largest
// request for a SCSI disk (2560 sectors).
const defaultMaxIO = 1280 << 10

// resolveMaxIO is cfg's MaxIO or the default, capped by the backend's
// maximum block size.
func resolveMaxIO(v uint32, b Backend) uint32 {
	if v == 0 {
		v = defaultMaxIO
	}
	if bs, ok := b.(BlockSizer); ok {
		if _, _, mx := bs.BlockSize(); mx > 0 {
			v = min(v, mx)
		}
	}
	return v
}

// limitRequests sets the device's largest request (queue/max_sectors_kb)
// to p.maxIO capped by srv's MaxRequest; best effort, logged.
func (d *Device) limitRequests(srv *Server) {
	kb := uint64(min(d.p.maxIO, srv.maxRequest())) >> 10
	if kb == 0 {
		return
	}
	got, err := setMaxSectorsKB(d.p.sysRoot, d.index, kb)
	if err != nil {
		d.log.Warn("nbd: cannot set the largest request size; the kernel splits I/O at its default",
			"dev", d.path, "max_sectors_kb", kb, "err", err)
		return
	}
	d.log.Debug("nbd: largest request size", "dev", d.path, "max_sectors_kb", got)
}

// checkShape resolves and checks index, block size, size and connections.
func (p *attachParams) checkShape(cfg AttachConfig, b Backend) error {
	if p.index < -1 {
		return fmt.Errorf("nbd: attach: invalid index %d", p.index)
	}
	p.blockSize = cfg.BlockSize
	if p.blockSize == 0 {
		p.blockSize = defaultKernelBlockSize(b)
	}
	if !validKernelBlockSize(p.blockSize) {
		return fmt.Errorf("nbd: attach: block size %d is not a power of two in [%d, %d]",
			p.blockSize, minKernelBlockSize, os.Getpagesize())
	}
	size := cfg.Size
	if size == 0 {
		size = b.Size()
	}
	if size <= 0 || size%int64(p.blockSize) != 0 {
		return fmt.Errorf("nbd: attach: size %d is not a positive multiple of the block size %d", size, p.blockSize)
	}
	p.size = uint64(size)
	if p.conns > maxConnections {
		return fmt.Errorf("nbd: attach: %d connections (at most %d)", p.conns, maxConnections)
	}
	if p.conns > 1 && p.flags&FlagCanMultiConn == 0 {
		return fmt.Errorf("nbd: attach: %d connections need a backend with CAN_MULTI_CONN (flags %s)", p.conns, p.flags)
	}
	return nil
}

// defaultKernelBlockSize is the backend's minimum block size raised to 512
// and rounded up to a power of two. One above the page size is returned as
// is, for resolve to reject: the kernel cannot honour it.
func defaultKernelBlockSize(b Backend) uint32 {
	bs, ok := b.(BlockSizer)
	if !ok {
		return minKernelBlockSize
	}
	mn, _, _ := bs.BlockSize()
	if mn <= minKernelBlockSize {
		return minKernelBlockSize
	}
	if mn > 1<<31 {
		return mn
	}
	return 1 << bits.Len32(mn-1)
}

func validKernelBlockSize(v uint32) bool {
	return v >= minKernelBlockSize && int(v) <= os.Getpagesize() && bits.OnesCount32(v) == 1
}

// seconds rounds a non-negative duration up to whole seconds.
// maxKernelTimeout is the largest request timeout, in seconds, that the
// kernel holds without overflow: it keeps timeout×HZ in 32 bits (at
// HZ=1000, 49.7 days).
const maxKernelTimeout = (1<<32 - 1) / 1000

func seconds(name string, d time.Duration) (uint64, error) {
	if d < 0 {
		return 0, fmt.Errorf("nbd: attach: negative %s %v", name, d)
	}
	return uint64((d + time.Second - 1) / time.Second), nil
}

func rootOr(root, def string) string {
	if root == "" {
		return def
	}
	return root
}

func (p attachParams) netlink(fds []int) netlinkParams {
	return netlinkParams{
		index: p.index, size: p.size, blockSize: uint64(p.blockSize), timeout: p.timeout,
		deadConn: p.deadConn, serverFlags: p.flags, clientFlags: p.clientFlags,
		backendID: p.backendID, fds: fds,
	}
}

func devicePath(devRoot string, index int) string {
	return filepath.Join(devRoot, "nbd"+strconv.Itoa(index))
}

// socketPair is one connection between the kernel and the server: the kernel
// gets kernelFD (closed by us once handed over), the server serves conn.
type socketPair struct {
	kernelFD int
	conn     net.Conn
}

// newSocketPairs makes n AF_UNIX stream socketpairs.
func newSocketPairs(n int) ([]socketPair, error) {
	pairs := make([]socketPair, 0, n)
	for range n {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			closePairs(pairs)
			return nil, fmt.Errorf("nbd: socketpair: %w", err)
		}
		forceSocketBuffers(fds[0])
		forceSocketBuffers(fds[1])
		f := os.NewFile(uintptr(fds[0]), "nbd-server")
		conn, err := net.FileConn(f) // dups the fd
		f.Close()
		if err != nil {
			unix.Close(fds[1])
			closePairs(pairs)
			return nil, fmt.Errorf("nbd: socketpair: %w", err)
		}
		pairs = append(pairs, socketPair{kernelFD: fds[1], conn: conn})
	}
	return pairs, nil
}

// forceSocketBuffers gives a socket send and receive buffers of
// socketBufferSize beyond net.core.wmem_max and rmem_max (SO_SNDBUFFORCE,
// SO_RCVBUFFORCE: CAP_NET_ADMIN, which an attach as root has); best
// effort. On a unix stream socket the sender's buffer bounds what is queued
// for the reader: with the default maximum (~200 KiB) a 1 MiB reply or
// write payload crosses the socketpair in several rounds of sleeping
// writer and waking reader, costly in a VM.
func forceSocketBuffers(fd int) {
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBufferSize)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBufferSize)
}

// buffersSized reports whether nc's send buffer already holds
// socketBufferSize (forced by newSocketPairs), which SetWriteBuffer would
// cut back to the system's maximum.
func buffersSized(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	v := 0
	raw.Control(func(fd uintptr) {
		v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	return err == nil && v >= socketBufferSize
}

// closeKernelEnds closes our copies of the kernel's ends: after a successful
// attach the kernel holds its own references; after a failed one the server
// ends then see EOF.
func closeKernelEnds(pairs []socketPair) {
	for i := range pairs {
		if pairs[i].kernelFD >= 0 {
			unix.Close(pairs[i].kernelFD)
			pairs[i].kernelFD = -1
		}
	}
}

func closePairs(pairs []socketPair) {
	closeKernelEnds(pairs)
	for _, p := range pairs {
		p.conn.Close()
	}
}

func kernelFDs(pairs []socketPair) []int {
	fds := make([]int, len(pairs))
	for i, p := range pairs {
		fds[i] = p.kernelFD
	}
	return fds
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Attach serves b with srv on socketpairs handed to the kernel's nbd driver
// and returns the running device, /dev/nbdN. The nbd module is loaded first
// if /sys/module/nbd is missing (LoadModule). With netlink (NBD_CMD_CONNECT)
// the device is ready when Attach returns; with the ioctl fallback Attach
// waits until /sys/block/nbdN shows the device running (pid file) with its
// size. ctx bounds the
// attach only: the device stays until Disconnect, until srv shuts down, or
// until its connections fail. Every connection is served with
// srv.ServeTransmission, so srv's limits and Shutdown apply. Attach needs
// CAP_SYS_ADMIN.
func Attach(ctx context.Context, srv *Server, b Backend, cfg AttachConfig) (*Device, error) {
	p, err := cfg.resolve(b)
	if err != nil {
		return nil, err
	}
	if srv == nil {
		return nil, errors.New("nbd: attach: nil Server")
	}
	if err := LoadModule(p.sysRoot); err != nil {
		return nil, err
	}
	d, err := attachMode(ctx, srv, b, p, cfg.Mode, loggerOr(cfg.Logger), kernelGenl(), ioctlSys{})
	if err != nil {
		return nil, err
	}
	d.limitRequests(srv)
	return d, nil
}

// attachMode attaches by mode with the given kernel interfaces.
func attachMode(ctx context.Context, srv *Server, b Backend, p attachParams, mode AttachMode,
	log *slog.Logger, g genlClient, sys ioctlSys) (*Device, error) {
	switch mode {
	case AttachIoctl:
		return attachIoctl(ctx, srv, b, p, log, sys)
	case AttachNetlink, AttachAuto:
		d, err := attachNetlink(ctx, srv, b, p, log, g)
		if mode == AttachAuto && errors.Is(err, ErrNetlinkUnavailable) {
			log.Info("nbd: no nbd netlink family; attaching with ioctls", "err", err)
			return attachIoctl(ctx, srv, b, p, log, sys)
		}
		return d, err
	}
	return nil, fmt.Errorf("nbd: attach: unknown mode %v", mode)
}

// attachNetlink connects the device with NBD_CMD_CONNECT.
func attachNetlink(ctx context.Context, srv *Server, b Backend, p attachParams, log *slog.Logger, g genlClient) (*Device, error) {
	pairs, err := newSocketPairs(p.conns)
	if err != nil {
		return nil, err
	}
	d := newDevice(ctx, AttachNetlink, p, log)
	d.genl = g
	d.serve(srv, b, pairs)
	idx, err := g.connect(ctx, p.netlink(kernelFDs(pairs)))
	closeKernelEnds(pairs)
	if err != nil {
		d.abort()
		return nil, fmt.Errorf("nbd: attach %s: %w", indexName(p.index), err)
	}
	d.setIndex(idx)
	log.Info("nbd: attached", "dev", d.path, "mode", d.mode, "size", p.size, "block_size", p.blockSize,
		"flags", p.flags, "connections", p.conns)
	return d, nil
}

// Reconfigure hands new sockets, served by srv with b, to the existing
// netlink device /dev/nbd<cfg.Index>, e.g. after a restart of the process
// that attached it, and returns it as a Device. The kernel replaces only
// connections it saw die, so the device must have been attached with a
// DeadConnTimeout that has not run out yet; cfg.Connections should equal the
// number it was attached with (extra sockets are silently left unused), and
// cfg.BackendID must repeat the one given to Attach. Size and Flags are not
// sent (the kernel keeps them); Timeout and DeadConnTimeout are, when set.
func Reconfigure(ctx context.Context, srv *Server, b Backend, cfg AttachConfig) (*Device, error) {
	if cfg.Index < 0 {
		return nil, fmt.Errorf("nbd: reconfigure: invalid index %d", cfg.Index)
	}
	p, err := cfg.resolve(b)
	if err != nil {
		return nil, err
	}
	if srv == nil {
		return nil, errors.New("nbd: reconfigure: nil Server")
	}
	d, err := reconfigure(ctx, srv, b, p, loggerOr(cfg.Logger), kernelGenl())
	if err != nil {
		return nil, err
	}
	d.limitRequests(srv) // a device attached by an older build keeps its limits
	return d, nil
}

func reconfigure(ctx context.Context, srv *Server, b Backend, p attachParams, log *slog.Logger, g genlClient) (*Device, error) {
	pairs, err := newSocketPairs(p.conns)
	if err != nil {
		return nil, err
	}
	d := newDevice(ctx, AttachNetlink, p, log)
	d.genl = g
	d.setIndex(p.index)
	d.serve(srv, b, pairs)
	err = g.reconfigure(ctx, p.netlink(kernelFDs(pairs)))
	closeKernelEnds(pairs)
	if err != nil {
		d.abort()
		return nil, fmt.Errorf("nbd: reconfigure %s: %w", d.path, err)
	}
	log.Info("nbd: reconfigured", "dev", d.path, "connections", p.conns)
	return d, nil
}

func indexName(index int) string {
	if index < 0 {
		return "(kernel's choice)"
	}
	return "/dev/nbd" + strconv.Itoa(index)
}

// DisconnectIndex disconnects /dev/nbd<index> whoever attached it: by
// NBD_CMD_DISCONNECT, or, when the kernel has no nbd netlink family, by
// NBD_DISCONNECT on devRoot/nbd<index> (devRoot "" is "/dev"). The kernel
// sends NBD_CMD_DISC to the server, which then closes its connections.
func DisconnectIndex(ctx context.Context, index int, devRoot string) error {
	err := kernelGenl().disconnect(ctx, index)
	if errors.Is(err, ErrNetlinkUnavailable) {
		return ioctlDisconnect(ioctlSys{}, devicePath(rootOr(devRoot, "/dev"), index))
	}
	return err
}

// Device is a kernel nbd device served by this process. Its methods are safe
// for concurrent use.
type Device struct {
	mode    AttachMode
	p       attachParams
	log     *slog.Logger
	genl    genlClient // netlink mode
	sys     ioctlSys   // ioctl mode
	cancel  context.CancelFunc
	ctx     context.Context // serving context
	served  sync.WaitGroup  // ServeTransmission goroutines (and the NBD_DO_IT one)
	done    chan struct{}   // closed once served is done
	index   int             // set before Attach returns
	path    string
	discOne sync.Once
	stopped atomic.Bool // ioctl mode: NBD_DO_IT has returned

	mu  sync.Mutex // guards the following
	err error      // first serving error
}

func newDevice(ctx context.Context, mode AttachMode, p attachParams, log *slog.Logger) *Device {
	d := &Device{mode: mode, p: p, log: log, index: -1, done: make(chan struct{})}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return d
}

func (d *Device) setIndex(idx int) {
	d.index = idx
	d.path = devicePath(d.p.devRoot, idx)
}

// serve starts one ServeTransmission per pair and closes done when all of
// them (and anything else added to served) have returned.
func (d *Device) serve(srv *Server, b Backend, pairs []socketPair) {
	for _, sp := range pairs {
		d.served.Add(1)
		go func(conn net.Conn) {
			defer d.served.Done()
			d.setErr(srv.ServeTransmission(d.ctx, conn, b))
		}(sp.conn)
	}
	go func() {
		d.served.Wait()
		d.cancel()
		close(d.done)
	}()
}

func (d *Device) setErr(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

// abort ends a failed attach: the serving goroutines see their connections
// close and return.
func (d *Device) abort() {
	d.cancel()
	<-d.done
}

// Index returns N of /dev/nbdN.
func (d *Device) Index() int { return d.index }

// Path returns the device node, DevRoot/nbdN.
func (d *Device) Path() string { return d.path }

// Mode returns AttachNetlink or AttachIoctl, whichever attached the device.
func (d *Device) Mode() AttachMode { return d.mode }

// Done is closed once every connection of the device has ended.
func (d *Device) Done() <-chan struct{} { return d.done }

// Wait blocks until every connection of the device has ended: after
// Disconnect, after the kernel disconnected it (e.g. `nbd-client -d`), after
// the server's Shutdown, or when the connections failed. It returns the
// first serving error, nil after a clean disconnect. A netlink device whose
// connections failed stays configured in the kernel (its I/O fails, or waits
// for Reconfigure within DeadConnTimeout) until Disconnect.
func (d *Device) Wait() error {
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Disconnect asks the kernel to disconnect the device (NBD_CMD_DISCONNECT or
// NBD_DISCONNECT), which sends NBD_CMD_DISC on every connection after the
// requests in flight, and waits until the connections ended. If ctx ends
// first, or the kernel refuses the request, the connections are closed and
// the error returned. Once every connection has ended the request is still
// sent (the kernel keeps a netlink device with dead sockets configured),
// unless sysfs shows the device attached by another process since; an ioctl
// device whose NBD_DO_IT returned is left alone. Calling Disconnect again
// only waits.
func (d *Device) Disconnect(ctx context.Context) error {
	var err error
	d.discOne.Do(func() { err = d.requestDisconnect(ctx) })
	if err != nil {
		d.cancel()
		<-d.done
		return err
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		d.cancel()
		<-d.done
		return fmt.Errorf("nbd: disconnect %s: %w", d.path, ctx.Err())
	}
}

func (d *Device) requestDisconnect(ctx context.Context) error {
	if d.mode == AttachIoctl && d.stopped.Load() {
		return nil // NBD_DO_IT has returned: the index may be someone else's now
	}
	select {
	case <-d.done:
		// Our connections are gone but the kernel may still hold the device
		// (dead sockets); unless another process has attached it since.
		if d.takenOver() {
			d.log.Info("nbd: not disconnecting: attached by another process now", "dev", d.path)
			return nil
		}
	default:
	}
	d.log.Info("nbd: disconnecting", "dev", d.path, "mode", d.mode)
	var err error
	if d.mode == AttachIoctl {
		err = ioctlDisconnect(d.sys, d.path)
	} else {
		err = d.genl.disconnect(ctx, d.index)
	}
	if err != nil {
		return fmt.Errorf("nbd: disconnect %s: %w", d.path, err)
	}
	return nil
}

// takenOver reports whether sysfs positively shows the device running for
// another process: its pid file names a thread of another thread group.
func (d *Device) takenOver() bool {
	info, err := ReadDeviceInfo(d.p.sysRoot, d.index)
	if err != nil || !info.Running() {
		return false
	}
	tgid, err := threadGroup(info.PID)
	return err == nil && tgid != os.Getpid()
}

// threadGroup returns the process (Tgid) that thread tid belongs to.
func threadGroup(tid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(tid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no Tgid", tid)
}
