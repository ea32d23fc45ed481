//go:build !linux

package nbd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// The kernel attach API exists on Linux only; elsewhere these declarations
// keep callers compiling and every call fails with errKernelUnsupported.
// The documentation is in the Linux files (kernel_linux.go and neighbours).

var errKernelUnsupported = fmt.Errorf("nbd: kernel nbd devices need Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)

// ErrNetlinkUnavailable: see the Linux documentation.
var ErrNetlinkUnavailable = errors.New("nbd: kernel has no nbd netlink family")

// AttachMode selects the kernel interface Attach uses (Linux only).
type AttachMode int

// Attach modes.
const (
	AttachAuto AttachMode = iota
	AttachNetlink
	AttachIoctl
)

// String returns "auto", "netlink" or "ioctl"; out-of-range values are
// clamped to the nearest of these.
func (m AttachMode) String() string {
	return [...]string{"auto", "netlink", "ioctl"}[min(max(int(m), 0), 2)]
}

// AttachConfig describes a kernel attach (Linux only).
type AttachConfig struct {
	Index                                  int
	Size                                   int64
	BlockSize                              uint32
	Flags                                  TransmissionFlags
	Connections                            int
	Timeout, DeadConnTimeout               time.Duration
	BackendID                              string
	DestroyOnDisconnect, DisconnectOnClose bool
	MaxIO                                  uint32
	Mode                                   AttachMode
	SysRoot, DevRoot                       string
	Logger                                 *slog.Logger
}

// buffersSized: socket buffers are forced for kernel socketpairs only, on
// Linux.
func buffersSized(net.Conn) bool { return false }

// Device is a kernel nbd device (Linux only).
type Device struct{}

// DeviceStatus is one device as NBD_CMD_STATUS reports it (Linux only).
type DeviceStatus struct {
	Index     int
	Connected bool
}

// DeviceInfo is what sysfs shows of one nbd device (Linux only).
type DeviceInfo struct {
	Index            int
	Size             int64
	LogicalBlockSize uint32
	PID              int
	Backend          string
	ReadOnly         bool
}

// Running reports whether the device is attached and started.
func (i DeviceInfo) Running() bool { return i.PID != 0 }

// Attach fails: Linux only.
func Attach(context.Context, *Server, Backend, AttachConfig) (*Device, error) {
	return nil, errKernelUnsupported
}

// Reconfigure fails: Linux only.
func Reconfigure(context.Context, *Server, Backend, AttachConfig) (*Device, error) {
	return nil, errKernelUnsupported
}

// DisconnectIndex fails: Linux only.
func DisconnectIndex(context.Context, int, string) error { return errKernelUnsupported }

// Status fails: Linux only.
func Status(context.Context, int) ([]DeviceStatus, error) { return nil, errKernelUnsupported }

// FreeIndex fails: Linux only.
func FreeIndex(context.Context) (int, error) { return -1, errKernelUnsupported }

// LoadModule fails: Linux only.
func LoadModule(string) error { return errKernelUnsupported }

// Mount fails: Linux only.
func Mount(dev, dir, fstype, opts string) error { return errKernelUnsupported }

// Unmount fails: Linux only.
func Unmount(dir string) error { return errKernelUnsupported }

// ReadDeviceInfo fails: Linux only.
func ReadDeviceInfo(string, int) (DeviceInfo, error) { return DeviceInfo{}, errKernelUnsupported }

// ListDevices fails: Linux only.
func ListDevices(string) ([]int, error) { return nil, errKernelUnsupported }

// IdleDevices fails: Linux only.
func IdleDevices(string) ([]int, error) { return nil, errKernelUnsupported }

// Index returns -1.
func (d *Device) Index() int { return -1 }

// Path returns "".
func (d *Device) Path() string { return "" }

// Mode returns AttachAuto.
func (d *Device) Mode() AttachMode { return AttachAuto }

// Done returns a closed channel.
func (d *Device) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Wait fails: Linux only.
func (d *Device) Wait() error { return errKernelUnsupported }

// Disconnect fails: Linux only.
func (d *Device) Disconnect(context.Context) error { return errKernelUnsupported }

// Resize fails: Linux only.
func (d *Device) Resize(context.Context, int64) error { return errKernelUnsupported }
