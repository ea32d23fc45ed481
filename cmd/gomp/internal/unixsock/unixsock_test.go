package unixsock

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListenUnixMode0600WithoutUmask: the socket is 0600 even under umask
// 0, and Listen leaves the process umask as it found it.
func TestListenUnixMode0600WithoutUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen(path, nil)
	require.NoError(t, err)
	require.Equal(t, 0, syscall.Umask(0), "umask untouched")
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the private bind directory is gone")
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	c.Close()
	require.NoError(t, ln.Close())
	_, err = os.Lstat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "Close removes the socket it made")
}

// TestListenUnixRemovesOnlyStaleSockets: a regular file, a directory, a
// symbolic link or a socket someone answers on stays where it is; only a
// socket nobody answers is replaced.
func TestListenUnixRemovesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("precious"), 0o644))
	sub := filepath.Join(dir, "dir")
	require.NoError(t, os.Mkdir(sub, 0o755))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))
	for _, p := range []string{file, sub, link} {
		_, err := Listen(p, nil)
		require.ErrorContains(t, err, "not a socket", p)
	}
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "precious", string(got))
	require.DirExists(t, sub)

	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	require.NoError(t, err)
	defer ln.Close()
	_, err = Listen(live, nil)
	require.ErrorIs(t, err, ErrInUse)

	stale := filepath.Join(dir, "stale.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	require.NoError(t, err)
	old.SetUnlinkOnClose(false)
	old.Close()
	ln2, err := Listen(stale, nil)
	require.NoError(t, err, "a socket nobody answers is stale")
	ln2.Close()
}

// TestListenUnixPathTooLong: a path bind would refuse is a clear error.
func TestListenUnixPathTooLong(t *testing.T) {
	_, err := Listen("/tmp/"+strings.Repeat("x", 120), nil)
	require.ErrorContains(t, err, "longer than 107 bytes")
}

func TestPeerAllowed(t *testing.T) {
	require.True(t, peerAllowed(0, 1000), "root")
	require.True(t, peerAllowed(1000, 1000), "the owner")
	require.False(t, peerAllowed(1001, 1000), "another user")
	require.True(t, peerAllowed(0, 0))
	require.False(t, peerAllowed(65534, 0))
}

// TestPrivateDirForced: an existing control directory is made 0700 and
// root's (gomp runs as root here); a symbolic link in its place is refused.
func TestPrivateDirForced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ctl")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(dir, 65534, 65534))
	}
	require.NoError(t, PrivateDir(dir))
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	if os.Geteuid() == 0 {
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, uint32(0), st.Uid)
		require.Equal(t, uint32(0), st.Gid)
	}
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(dir, link))
	require.ErrorContains(t, PrivateDir(link), "not a directory")
}
