package kernel

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
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomp-dev/gomp/nbd"
)

// Limits of the kernel's nbd driver.
const (
	minKernelBlockSize = 512
	maxConnections     = 64 // a sanity bound; the kernel takes more, each one a hardware queue
)

// attachParams is an AttachConfig resolved against a Backend.
type attachParams struct {
	index       int
	size        uint64
	blockSize   uint32
	flags       nbd.TransmissionFlags
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
func (cfg AttachConfig) resolve(b nbd.Backend) (attachParams, error) {
	if b == nil {
		return attachParams{}, errors.New("nbd: attach: nil Backend")
	}
	p := attachParams{
		index: cfg.Index, flags: cfg.Flags | nbd.FlagHasFlags, conns: max(cfg.Connections, 1),
		backendID: cfg.BackendID, sysRoot: rootOr(cfg.SysRoot, "/sys"), devRoot: rootOr(cfg.DevRoot, "/dev"),
	}
	if cfg.Flags == 0 {
		p.flags = nbd.ExportFlags(b)
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
func resolveMaxIO(v uint32, b nbd.Backend) uint32 {
	if v == 0 {
		v = defaultMaxIO
	}
	if bs, ok := b.(nbd.BlockSizer); ok {
		if _, _, mx := bs.BlockSize(); mx > 0 {
			v = min(v, mx)
		}
	}
	return v
}

// limitRequests sets the device's largest request (queue/max_sectors_kb)
// to p.maxIO capped by srv's MaxRequest; best effort, logged.
func (d *Device) limitRequests(srv *nbd.Server) {
	kb := uint64(min(d.p.maxIO, srv.RequestLimit())) >> 10
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
func (p *attachParams) checkShape(cfg AttachConfig, b nbd.Backend) error {
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
	if p.conns > 1 && p.flags&nbd.FlagCanMultiConn == 0 {
		return fmt.Errorf("nbd: attach: %d connections need a backend with CAN_MULTI_CONN (flags %s)", p.conns, p.flags)
	}
	return nil
}

// defaultKernelBlockSize is the backend's minimum block size raised to 512
// and rounded up to a power of two. One above the page size is returned as
// is, for resolve to reject: the kernel cannot honour it.
func defaultKernelBlockSize(b nbd.Backend) uint32 {
	bs, ok := b.(nbd.BlockSizer)
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
// nbd.SocketBufferSize beyond net.core.wmem_max and rmem_max (SO_SNDBUFFORCE,
// SO_RCVBUFFORCE: CAP_NET_ADMIN, which an attach as root has); best
// effort. On a unix stream socket the sender's buffer bounds what is queued
// for the reader: with the default maximum (~200 KiB) a 1 MiB reply or
// write payload crosses the socketpair in several rounds of sleeping
// writer and waking reader, costly in a VM.
func forceSocketBuffers(fd int) {
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, nbd.SocketBufferSize)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nbd.SocketBufferSize)
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
func Attach(ctx context.Context, srv *nbd.Server, b nbd.Backend, cfg AttachConfig) (*Device, error) {
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
func attachMode(ctx context.Context, srv *nbd.Server, b nbd.Backend, p attachParams, mode AttachMode,
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
func attachNetlink(ctx context.Context, srv *nbd.Server, b nbd.Backend, p attachParams, log *slog.Logger, g genlClient) (*Device, error) {
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
func Reconfigure(ctx context.Context, srv *nbd.Server, b nbd.Backend, cfg AttachConfig) (*Device, error) {
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

func reconfigure(ctx context.Context, srv *nbd.Server, b nbd.Backend, p attachParams, log *slog.Logger, g genlClient) (*Device, error) {
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

// osDevice is a Device's Linux state: the resolved attach and the kernel
// interface that attached it.
type osDevice struct {
	p       attachParams
	genl    genlClient  // netlink mode
	sys     ioctlSys    // ioctl mode
	stopped atomic.Bool // ioctl mode: NBD_DO_IT has returned
}

func newDevice(ctx context.Context, mode AttachMode, p attachParams, log *slog.Logger) *Device {
	d := &Device{mode: mode, log: log, index: -1, done: make(chan struct{})}
	d.p = p
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return d
}

func (d *Device) setIndex(idx int) {
	d.index = idx
	d.path = devicePath(d.p.devRoot, idx)
}

// serve starts one ServeTransmission per pair and closes done when all of
// them (and anything else added to served) have returned.
func (d *Device) serve(srv *nbd.Server, b nbd.Backend, pairs []socketPair) {
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
