package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/unixsock"
	"github.com/gomp-dev/gomp/internal/safename"
)

// SocketPath returns DIR/NAME.sock, checked to stay in dir. A name too
// long for a socket path in dir (a WWID is up to 127 bytes, a socket path
// at most 107) is cut and given the first 8 hex digits of its SHA-256, so
// that the server and every client derive the same path.
func SocketPath(dir, name string) (string, error) {
	p, err := safename.Join(dir, name, ".sock")
	if err != nil || len(p) <= unixsock.MaxPath {
		return p, err
	}
	sum := sha256.Sum256([]byte(name))
	room := unixsock.MaxPath - (len(p) - len(name)) - 9 // "-" and 8 hex digits
	if room < 1 {
		return "", fmt.Errorf("control directory %s: too long for a socket path", dir)
	}
	return safename.Join(dir, name[:room]+"-"+hex.EncodeToString(sum[:4]), ".sock")
}

// Names lists the devices with a control socket in dir.
func Names(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range m {
		if n := strings.TrimSuffix(filepath.Base(p), ".sock"); safename.Check(n) == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Resolve maps NAME, a node record name or /dev/nbdN to a device name.
func Resolve(ctx context.Context, dir, arg string) (string, error) {
	isDev := strings.HasPrefix(arg, "/dev/")
	if !isDev {
		if p, err := SocketPath(dir, arg); err == nil {
			if _, err := os.Stat(p); err == nil {
				return arg, nil
			}
		}
	}
	names, err := Names(dir)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		st, err := NewClient(dir, n).Status(ctx)
		if err != nil {
			continue
		}
		if isDev && st.Exports.NBD == arg || !isDev && st.Exports.Node == arg {
			return n, nil
		}
	}
	if !isDev { // not attached: the caller's request says so
		return arg, nil
	}
	return "", errors.New(arg + ": no running gomp attach exports it")
}

// Find returns a client for the device arg names (see Resolve).
func Find(ctx context.Context, dir, arg string) (*Client, error) {
	name, err := Resolve(ctx, dir, arg)
	if err != nil {
		return nil, err
	}
	return NewClient(dir, name), nil
}
