package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/u-root/u-root/pkg/mount"
	"golang.org/x/sys/unix"
)

// mountFlags maps the generic mount(8) options to mount(2) flags; "clear"
// options remove a flag (rw after ro, say).
var mountFlags = map[string]struct {
	flag  uintptr
	clear bool
}{
	"ro": {unix.MS_RDONLY, false}, "rw": {unix.MS_RDONLY, true},
	"nosuid": {unix.MS_NOSUID, false}, "suid": {unix.MS_NOSUID, true},
	"nodev": {unix.MS_NODEV, false}, "dev": {unix.MS_NODEV, true},
	"noexec": {unix.MS_NOEXEC, false}, "exec": {unix.MS_NOEXEC, true},
	"sync": {unix.MS_SYNCHRONOUS, false}, "async": {unix.MS_SYNCHRONOUS, true},
	"dirsync": {unix.MS_DIRSYNC, false}, "noatime": {unix.MS_NOATIME, false},
	"atime": {unix.MS_NOATIME, true}, "nodiratime": {unix.MS_NODIRATIME, false},
	"diratime": {unix.MS_NODIRATIME, true}, "relatime": {unix.MS_RELATIME, false},
	"norelatime": {unix.MS_RELATIME, true}, "strictatime": {unix.MS_STRICTATIME, false},
	"lazytime": {unix.MS_LAZYTIME, false}, "nolazytime": {unix.MS_LAZYTIME, true},
	"defaults": {0, false},
}

// parseMountOptions splits a mount(8)-style option list ("ro,noatime,
// discard") into mount(2) flags and the file-system data string (the
// options it does not know, in order).
func parseMountOptions(opts string) (flags uintptr, data string) {
	var rest []string
	for _, o := range strings.Split(opts, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		f, ok := mountFlags[o]
		switch {
		case !ok:
			rest = append(rest, o)
		case f.clear:
			flags &^= f.flag
		default:
			flags |= f.flag
		}
	}
	return flags, strings.Join(rest, ",")
}

// Mount mounts the file system on dev (e.g. Device.Path()) at dir. fstype is
// required ("ext4", "xfs", …); opts is a mount(8)-style option list whose
// generic options (ro, noatime, nosuid, …) become flags and the rest is
// passed to the file system. Errors are *os.PathError chains.
func Mount(dev, dir, fstype, opts string) error {
	if fstype == "" {
		return fmt.Errorf("nbd: mount %s on %s: no file-system type", dev, dir)
	}
	flags, data := parseMountOptions(opts)
	if _, err := mount.Mount(dev, dir, fstype, data, flags); err != nil {
		return fmt.Errorf("nbd: %w", err)
	}
	return nil
}

// Unmount unmounts the file system mounted at dir (not following a final
// symlink). It fails with EBUSY while files are open there.
func Unmount(dir string) error {
	if err := mount.Unmount(dir, false, false); err != nil {
		return fmt.Errorf("nbd: %w", err)
	}
	return nil
}

// Mounted reports whether dev is mounted on dir, by /proc/self/mounts; false
// when that cannot be read. A device re-attached with AttachOrReconfigure
// keeps its mount.
func Mounted(dev, dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	return err == nil && mountedIn(string(b), dev, dir)
}

// mountedIn reports whether the mount table mounts (in the format of
// /proc/self/mounts) mounts dev on dir.
func mountedIn(mounts, dev, dir string) bool {
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == dev && filepath.Clean(f[1]) == filepath.Clean(dir) {
			return true
		}
	}
	return false
}
