// Package unixsock makes the Unix sockets of gomp attach (its control
// socket, --listen unix:PATH and the metrics socket) private: mode 0600
// from the moment the socket exists, in a 0700 directory, answering only
// root and the process's own user (SO_PEERCRED), and never taking over a
// socket another process still answers on.
package unixsock

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaxPath is the longest Unix socket path bind accepts: sun_path is
// 108 bytes with its terminating NUL.
const MaxPath = 107

// staleDialTimeout bounds the probe of an existing socket.
const staleDialTimeout = time.Second

// Listen listens on a Unix socket at path that is mode 0600 from the
// moment it exists there, without touching the process umask (which every
// goroutine shares): the socket is bound in a private 0700 directory next
// to path, made 0600 and renamed into place (never over an existing file).
// A socket already at path is removed only when nobody answers on it; a
// file of another kind, or a socket in use, is an error. The listener
// accepts only peers running as root or as this process's user
// (SO_PEERCRED), logs the others on log (nil: not logged) and closes them;
// Close removes the socket if it is still the one it created.
func Listen(path string, log *slog.Logger) (net.Listener, error) {
	if len(path) > MaxPath {
		return nil, fmt.Errorf("unix socket %s: path longer than %d bytes", path, MaxPath)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".g")
	if err != nil {
		return nil, fmt.Errorf("unix socket %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	ln, err := bindPrivate(filepath.Join(tmp, "s"), path)
	if err != nil {
		return nil, fmt.Errorf("unix socket %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("unix socket %s: %w", path, err)
	}
	return &unixListener{UnixListener: ln, path: path, created: fi, log: log}, nil
}

// bindPrivate binds a socket at tmp, sets it to 0600 and renames it to
// path with RENAME_NOREPLACE.
func bindPrivate(tmp, path string) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	err = os.Chmod(tmp, 0o600)
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
		if err != nil {
			err = &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
		}
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// ErrInUse is wrapped when a live process answers on a socket path.
var ErrInUse = errors.New("another process answers on it")

// removeStale removes a socket at path that nobody answers. Nothing at
// path is fine; a live socket, or a file that is not a socket (a regular
// file, a directory, a symbolic link), is an error and stays.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unix socket %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("unix socket %s: exists and is not a socket (%v); not removing it", path, fi.Mode().Type())
	}
	if c, err := net.DialTimeout("unix", path, staleDialTimeout); err == nil {
		c.Close()
		return fmt.Errorf("unix socket %s: %w", path, ErrInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unix socket %s: removing the stale socket: %w", path, err)
	}
	return nil
}

// unixListener is a listener made by Listen.
type unixListener struct {
	*net.UnixListener
	path    string
	created os.FileInfo // the socket file it made, for Close
	log     *slog.Logger
}

// Addr returns the socket's final path (not the private one it was bound
// at).
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Accept returns the next connection from root or from this process's
// user; connections from other users are closed (and logged).
func (l *unixListener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		uid, pid, err := peerCred(c)
		if err == nil && peerAllowed(uid, uint32(os.Geteuid())) {
			return c, nil
		}
		if l.log != nil {
			l.log.Warn("unix socket: refused a client of another user", "socket", l.path, "uid", uid, "pid", pid, "err", err)
		}
		c.Close()
	}
}

// Close stops listening and removes the socket file if it is still the
// one Listen created.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.created) {
		_ = os.Remove(l.path)
	}
	return err
}

// peerAllowed reports whether a peer running as uid may use a socket of a
// process running as euid: root and the same user only.
func peerAllowed(uid, euid uint32) bool { return uid == 0 || uid == euid }

// peerCred returns the user and process id of c's peer (SO_PEERCRED).
func peerCred(c *net.UnixConn) (uid uint32, pid int32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return cred.Uid, cred.Pid, nil
}

// PrivateDir creates dir (mode 0700) or checks the one there: it
// must be a real directory (not a symbolic link), owned by root when gomp
// runs as root (it is made so) and by this user otherwise, and its mode is
// forced to 0700 whatever it was.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("control directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("control directory %s: not a directory (%v)", dir, fi.Mode().Type())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	euid := os.Geteuid()
	switch {
	case !ok:
		return fmt.Errorf("control directory %s: no owner information", dir)
	case euid == 0 && (st.Uid != 0 || st.Gid != 0):
		if err := os.Lchown(dir, 0, 0); err != nil {
			return fmt.Errorf("control directory: %w", err)
		}
	case euid != 0 && int(st.Uid) != euid:
		return fmt.Errorf("control directory %s: owned by uid %d, not by uid %d", dir, st.Uid, euid)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("control directory: %w", err)
		}
	}
	return nil
}
