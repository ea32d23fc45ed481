// Package node keeps gomp's node records: what "gomp attach" needs to
// attach one device, saved under a name so that "gomp attach --node NAME"
// and the boot-time "gomp attach --all" can replay it. It plays the part
// of open-iscsi's node database (iscsiadm -m node, node.startup).
//
// A record is one text file, DIR/nodes/NAME, mode 0600, written atomically
// (temporary file, fsync, rename, fsync of the directory). Each line is
// "key = value": "startup" (automatic or manual) or the long name of a
// gomp attach flag, repeated for the flags that repeat (portal, listen).
// Blank lines and lines starting with '#' are comments. Secrets are never
// stored: CHAP secrets stay in their files, which records name
// (chap-secret-file, mutual-secret-file).
//
// The package only reads and writes records; which keys are valid is the
// caller's (gomp's) business, given to Parse as a check function.
package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Startup values, as open-iscsi's node.startup.
const (
	StartupAutomatic = "automatic" // attached by gomp attach --all
	StartupManual    = "manual"
)

// Setting is one "key = value" line.
type Setting struct {
	Key, Value string
	Line       int // 1-based line in the file; 0 for settings not read from one
}

// Record is one node record.
type Record struct {
	Name     string
	Startup  string    // StartupAutomatic or StartupManual
	Settings []Setting // attach flags, in file order
	File     string    // the file it was read from, if any
}

// Values returns the values of key, in order.
func (r *Record) Values(key string) []string {
	var v []string
	for _, s := range r.Settings {
		if s.Key == key {
			v = append(v, s.Value)
		}
	}
	return v
}

// Value returns the last value of key, or "".
func (r *Record) Value(key string) string {
	v := r.Values(key)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// ParseError is a record that cannot be read: it names the file and line.
type ParseError struct {
	File string
	Line int // 0 when the error is about the whole file
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ErrNotFound is returned (wrapped) for a record that does not exist.
var ErrNotFound = errors.New("no such node record")

// CheckName reports whether name can name a record (and a systemd unit
// instance): 1 to 64 of [A-Za-z0-9_.-], not starting with '.' or '-'.
func CheckName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("node name %q: want 1 to 64 characters", name)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("node name %q: must not start with %q", name, name[0])
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("node name %q: only letters, digits, '_', '.' and '-'", name)
		}
	}
	return nil
}

// maxRecordSize bounds a record file; real ones are a few hundred bytes.
const maxRecordSize = 64 << 10

// Parse reads a record from data. check, when not nil, validates each
// setting (a known key, a value it can take); its error is reported with
// the file and line.
func Parse(name, file string, data []byte, check func(key, value string) error) (*Record, error) {
	if len(data) > maxRecordSize {
		return nil, &ParseError{File: file, Msg: fmt.Sprintf("%d bytes: larger than %d, not a node record", len(data), maxRecordSize)}
	}
	r := &Record{Name: name, File: file}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxRecordSize)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case !ok:
			return nil, &ParseError{File: file, Line: line, Msg: fmt.Sprintf("%q: want key = value", text)}
		case key == "":
			return nil, &ParseError{File: file, Line: line, Msg: "empty key"}
		case key == "startup":
			if value != StartupAutomatic && value != StartupManual {
				return nil, &ParseError{File: file, Line: line, Msg: fmt.Sprintf("startup %q: want automatic or manual", value)}
			}
			r.Startup = value
			continue
		}
		if check != nil {
			if err := check(key, value); err != nil {
				return nil, &ParseError{File: file, Line: line, Msg: err.Error()}
			}
		}
		r.Settings = append(r.Settings, Setting{Key: key, Value: value, Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: file, Msg: err.Error()}
	}
	if r.Startup == "" {
		r.Startup = StartupManual
	}
	return r, nil
}

// Format writes r in the file format Parse reads.
func Format(r *Record) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# gomp node record %q, written by \"gomp node add\".\n", r.Name)
	fmt.Fprintf(&b, "# Keys are gomp attach flags; see gomp node --help.\n")
	fmt.Fprintf(&b, "startup = %s\n", r.Startup)
	for _, s := range r.Settings {
		fmt.Fprintf(&b, "%s = %s\n", s.Key, s.Value)
	}
	return b.Bytes()
}

// Store is a directory of records.
type Store struct {
	Dir string // the state directory; records live in Dir/nodes
}

func (s Store) dir() string { return filepath.Join(s.Dir, "nodes") }

// Path returns the file of the record name.
func (s Store) Path(name string) string { return filepath.Join(s.dir(), name) }

// Save writes r atomically, replacing any record of the same name.
func (s Store) Save(r *Record) error {
	if err := CheckName(r.Name); err != nil {
		return err
	}
	for _, st := range r.Settings {
		if strings.ContainsAny(st.Key+st.Value, "\n\r") || strings.Contains(st.Key, "=") {
			return fmt.Errorf("node %s: setting %q: a key or value cannot hold a newline or a key an '='", r.Name, st.Key)
		}
	}
	if err := os.MkdirAll(s.dir(), 0o700); err != nil {
		return err
	}
	return writeAtomic(s.Path(r.Name), Format(r))
}

// writeAtomic replaces path with data: a reader sees the old file or the
// new one, never a part, and after a crash one of them survives.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Load reads the record name.
func (s Store) Load(name string, check func(key, value string) error) (*Record, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	path := s.Path(name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("node %s: %w (%s)", name, ErrNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	return Parse(name, path, data, check)
}

// Remove deletes the record name.
func (s Store) Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	err := os.Remove(s.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("node %s: %w (%s)", name, ErrNotFound, s.Path(name))
	}
	return err
}

// Names lists the records' names, sorted. Files that cannot name a record
// (temporary files of an interrupted Save, editor backups) are skipped.
func (s Store) Names() ([]string, error) {
	ents, err := os.ReadDir(s.dir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && CheckName(e.Name()) == nil && !strings.HasSuffix(e.Name(), "~") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// All loads every record. A record that cannot be read does not stop the
// others: its error is in errs, in name order.
func (s Store) All(check func(key, value string) error) (recs []*Record, errs []error) {
	names, err := s.Names()
	if err != nil {
		return nil, []error{err}
	}
	for _, n := range names {
		r, err := s.Load(n, check)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}
