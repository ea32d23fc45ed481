//go:build !linux

package kernel

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/gomp-dev/gomp/nbd"
)

// The kernel's nbd driver exists on Linux only; elsewhere every function
// fails with errKernelUnsupported. The documentation is in the Linux files
// (attach_linux.go and its neighbours).

var errKernelUnsupported = fmt.Errorf("nbd: kernel nbd devices need Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)

// osDevice holds no attach state: no Device is ever attached here.
type osDevice struct{}

// Attach fails: Linux only.
func Attach(context.Context, *nbd.Server, nbd.Backend, AttachConfig) (*Device, error) {
	return nil, errKernelUnsupported
}

// Reconfigure fails: Linux only.
func Reconfigure(context.Context, *nbd.Server, nbd.Backend, AttachConfig) (*Device, error) {
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

// Mounted returns false: Linux only.
func Mounted(dev, dir string) bool { return false }

// Unmount fails: Linux only.
func Unmount(dir string) error { return errKernelUnsupported }

// ReadDeviceInfo fails: Linux only.
func ReadDeviceInfo(string, int) (DeviceInfo, error) { return DeviceInfo{}, errKernelUnsupported }

// ListDevices fails: Linux only.
func ListDevices(string) ([]int, error) { return nil, errKernelUnsupported }

// IdleDevices fails: Linux only.
func IdleDevices(string) ([]int, error) { return nil, errKernelUnsupported }

// Disconnect fails: Linux only.
func (d *Device) Disconnect(context.Context) error { return errKernelUnsupported }

// Resize fails: Linux only.
func (d *Device) Resize(context.Context, int64) error { return errKernelUnsupported }
