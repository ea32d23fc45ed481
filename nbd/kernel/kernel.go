package kernel

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gomp-dev/gomp/nbd"
)

// This file holds the types shared by every build; the functions that need
// Linux live in the _linux.go files, and kernel_other.go makes them fail
// elsewhere.

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
	Flags nbd.TransmissionFlags
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

// ErrNetlinkUnavailable is returned (wrapped) when the kernel has no "nbd"
// generic-netlink family: nbd.ko is not loaded, or the kernel predates 4.12.
// Attach in AttachAuto mode then falls back to the ioctl interface.
var ErrNetlinkUnavailable = errors.New("nbd: kernel has no nbd netlink family")

// DeviceStatus is one device as NBD_CMD_STATUS reports it.
type DeviceStatus struct {
	Index int
	// Connected is the kernel's "has a configuration" state: true while a
	// device is attached, and also while something holds an unconfigured
	// /dev/nbdN open (which makes NBD_CMD_CONNECT to it fail with EBUSY).
	Connected bool
}

// DeviceInfo is what sysfs shows of one nbd device, /sys/block/nbdN.
type DeviceInfo struct {
	Index int
	// Size in bytes (the size file counts 512-byte sectors); 0 when not
	// attached.
	Size int64
	// LogicalBlockSize is queue/logical_block_size.
	LogicalBlockSize uint32
	// PID is the pid file: the task that started the device (NBD_DO_IT's
	// thread, or the one that sent NBD_CMD_CONNECT). The file exists only
	// while the device runs; 0 otherwise.
	PID int
	// Backend is the backend file, the BackendID of a netlink attach
	// (kernel ≥ 5.13); "" otherwise.
	Backend string
	// ReadOnly is the ro file.
	ReadOnly bool
}

// Running reports whether the device is attached and started.
func (i DeviceInfo) Running() bool { return i.PID != 0 }

// Device is a kernel nbd device served by this process. Its methods are safe
// for concurrent use.
type Device struct {
	mode     AttachMode
	log      *slog.Logger
	osDevice // the OS's attach state (Linux: parameters, netlink and ioctl handles); empty elsewhere
	cancel   context.CancelFunc
	ctx      context.Context // serving context
	served   sync.WaitGroup  // ServeTransmission goroutines (and the NBD_DO_IT one)
	done     chan struct{}   // closed once served is done
	index    int             // set before Attach returns
	path     string
	discOne  sync.Once

	mu  sync.Mutex // guards the following
	err error      // first serving error
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

// BackendID returns the backend identifier for a device that serves export
// (a WWID, say): "gomp:" followed by export. Given as
// AttachConfig.BackendID, it shows in /sys/block/nbdN/backend, so that a
// restarted process recognizes its own device (AttachOrReconfigure).
func BackendID(export string) string { return "gomp:" + export }

// AttachOrReconfigure attaches b as Attach does, unless cfg.Index names a
// device that sysfs shows configured (a non-zero size) with cfg.BackendID:
// one that an earlier process attached with the same identifier and left
// with dead connections (a crash or restart within its DeadConnTimeout).
// That device gets new sockets with Reconfigure instead, logged as a
// warning, and the device, its mount and the I/O the kernel queued
// meanwhile survive.
func AttachOrReconfigure(ctx context.Context, srv *nbd.Server, b nbd.Backend, cfg AttachConfig) (*Device, error) {
	if cfg.Index >= 0 {
		info, err := ReadDeviceInfo(cfg.SysRoot, cfg.Index)
		if err == nil && info.Backend == cfg.BackendID && info.Size > 0 {
			loggerOr(cfg.Logger).Warn("nbd: re-attaching the existing device (a previous attach ended without detaching)",
				"device", "/dev/nbd"+strconv.Itoa(cfg.Index), "backend", info.Backend)
			return Reconfigure(ctx, srv, b, cfg)
		}
	}
	return Attach(ctx, srv, b, cfg)
}

func rootOr(root, def string) string {
	if root == "" {
		return def
	}
	return root
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
