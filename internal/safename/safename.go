package safename

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// MaxLen is the longest name Name returns: multipath-tools' WWID_SIZE (128)
// less the terminating NUL.
const MaxLen = 127

// ErrInvalid is wrapped by the errors of Check and Join.
var ErrInvalid = errors.New("invalid name")

// allowed marks the bytes Name keeps.
var allowed = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "+,-.:=@_" {
		t[c] = true
	}
	return t
}()

// Name returns s as a name safe for a file name, a log or sd_notify field,
// a metric label and a terminal: bytes outside [A-Za-z0-9+,-.:=@_] become
// "_", the result is cut to MaxLen bytes, and a result that is "." or ".."
// or starts with "-" has its first byte replaced by "_". Name of a name
// that passes Check is that name; Name("") is "".
func Name(s string) string {
	if len(s) > MaxLen {
		s = s[:MaxLen]
	}
	if isSafe(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !allowed[c] {
			b[i] = '_'
		}
	}
	if len(b) > 0 && (b[0] == '-' || isDots(string(b))) {
		b[0] = '_'
	}
	return string(b)
}

// isSafe reports whether Name would return s unchanged (s is at most
// MaxLen bytes).
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if !allowed[s[i]] {
			return false
		}
	}
	return s == "" || s[0] != '-' && !isDots(s)
}

func isDots(s string) bool { return s == "." || s == ".." }

// Check returns nil when name is a valid name chosen by a user (an alias,
// a bindings entry, a node name): 1 to MaxLen bytes that Name leaves as
// they are. The error wraps ErrInvalid and shows name Go-quoted (%q), so
// no control character in it reaches a terminal.
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalid)
	case len(name) > MaxLen:
		return fmt.Errorf("%w: %q... is longer than %d bytes", ErrInvalid, name[:32], MaxLen)
	case !isSafe(name):
		return fmt.Errorf("%w: %q (only letters, digits and %q; not starting with '-'; not . or ..)",
			ErrInvalid, name, "+,-.:=@_")
	}
	return nil
}

// Join returns dir/name+suffix once name passes Check and the joined path
// is a direct child of dir: a name can never climb out of, or point into a
// subdirectory of, the directory it is meant for.
func Join(dir, name, suffix string) (string, error) {
	if err := Check(name); err != nil {
		return "", err
	}
	if strings.ContainsRune(suffix, '/') {
		return "", fmt.Errorf("%w: suffix %q holds a slash", ErrInvalid, suffix)
	}
	p := filepath.Join(dir, name+suffix)
	if filepath.Dir(p) != filepath.Clean(dir) || filepath.Base(p) != name+suffix {
		return "", fmt.Errorf("%w: %q leaves the directory %s", ErrInvalid, name+suffix, dir)
	}
	return p, nil
}

// Text returns s with every byte that is not printable ASCII written as
// \xNN and every backslash doubled, so that free text from a peer (a
// vendor string, a target name, an error message) can go to a terminal or
// a log line: no control character, escape sequence or line break gets
// through, and nothing is lost.
func Text(s string) string {
	const hex = "0123456789abcdef"
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
