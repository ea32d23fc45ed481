package multipath

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gomp-dev/gomp/internal/safename"
)

// DefaultBindingsFile is where multipath-tools keeps user friendly names.
const DefaultBindingsFile = "/etc/multipath/bindings"

const bindingsHeader = `# Multipath bindings, Version : 1.0
# NOTE: this file is automatically maintained by gomp (same format as
# multipath-tools). You should not need to edit it.
#
# Format:
# alias wwid
#
`

// Bindings is a multipath bindings file: one "alias wwid" per line, #
// comments. Its methods lock the file (flock), so several gomp processes,
// or gomp and multipathd, can share it.
type Bindings struct {
	path string
}

// NewBindings returns the bindings kept in path; the file and its
// directory are created on first assignment.
func NewBindings(path string) *Bindings { return &Bindings{path: path} }

// Path returns the file's path.
func (b *Bindings) Path() string { return b.path }

// Alias returns the name bound to wwid, binding a new one when there is
// none: prefix followed by the first free letter sequence (mpatha …
// mpathz, mpathaa, …), as multipath-tools assigns them.
//
// The WWID and the aliases must follow safename's rule (Check): a WWID
// with a space, "#", a line break or another byte the file cannot hold is
// refused rather than written as a line that would never match on
// reading, so every WWID written reads back. Lines of the file whose
// alias or WWID break the rule are ignored, so a planted line cannot name
// a device "../x".
func (b *Bindings) Alias(wwid, prefix string) (string, error) {
	if err := safename.Check(wwid); err != nil {
		return "", fmt.Errorf("multipath: bindings: WWID: %w", err)
	}
	if err := safename.Check(prefix + "a"); err != nil {
		return "", fmt.Errorf("multipath: bindings: alias prefix: %w", err)
	}
	f, err := b.openLocked()
	if err != nil {
		return "", err
	}
	defer f.Close() // also releases the lock
	data, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("multipath: bindings %s: %w", b.path, err)
	}
	byWWID, used := parseBindings(string(data))
	if alias, ok := byWWID[wwid]; ok {
		return alias, nil
	}
	alias := firstFreeName(prefix, used)
	line := alias + " " + wwid + "\n"
	switch {
	case len(data) == 0:
		line = bindingsHeader + line
	case data[len(data)-1] != '\n': // a last line without its newline
		line = "\n" + line
	}
	return alias, b.append(f, line)
}

func (b *Bindings) openLocked() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(b.path), 0o755); err != nil {
		return nil, fmt.Errorf("multipath: bindings: %w", err)
	}
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("multipath: bindings: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("multipath: bindings %s: lock: %w", b.path, err)
	}
	return f, nil
}

// append writes line at the end of the file and syncs it.
func (b *Bindings) append(f *os.File, line string) error {
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("multipath: bindings %s: %w", b.path, err)
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("multipath: bindings %s: %w", b.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("multipath: bindings %s: %w", b.path, err)
	}
	return nil
}

// parseBindings returns the alias of each WWID (first binding wins) and
// the set of aliases in use. A line whose alias or WWID fails
// safename.Check binds nothing (its alias still counts as used).
func parseBindings(data string) (byWWID map[string]string, used map[string]bool) {
	byWWID, used = map[string]string{}, map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		used[f[0]] = true
		if safename.Check(f[0]) != nil || safename.Check(f[1]) != nil {
			continue
		}
		if _, dup := byWWID[f[1]]; !dup {
			byWWID[f[1]] = f[0]
		}
	}
	return byWWID, used
}

func firstFreeName(prefix string, used map[string]bool) string {
	for id := 1; ; id++ {
		if name := friendlyName(prefix, id); !used[name] {
			return name
		}
	}
}

// friendlyName formats id (1-based) in bijective base 26: 1 a, 26 z,
// 27 aa, 702 zz, 703 aaa.
func friendlyName(prefix string, id int) string {
	var buf [16]byte
	i := len(buf)
	for id > 0 {
		id--
		i--
		buf[i] = byte('a' + id%26)
		id /= 26
	}
	return prefix + string(buf[i:])
}
