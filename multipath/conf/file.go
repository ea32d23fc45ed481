package conf

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"

	"github.com/gomp-dev/gomp/multipath"
)

// File is a parsed multipath.conf, as Parse and Load return it; Lookup
// and Blacklisted apply it to a LUN, as multipath.ConfigFile. A File is
// not modified by its methods and is safe for concurrent use.
type File struct {
	Name                string // file name, for messages
	Defaults            multipath.Settings
	Overrides           multipath.Settings
	Devices             []Device
	Multipaths          []Multipath
	Blacklist           Blacklist
	BlacklistExceptions Blacklist

	defaults, overrides layer
}

// Device is one devices { device { … } } entry: settings for the
// LUNs whose INQUIRY vendor and product match the regular expressions.
type Device struct {
	DeviceMatch
	Settings multipath.Settings
	layer    layer
}

// Multipath is one multipaths { multipath { … } } entry: settings,
// typically an alias, for the LUN with this exact WWID.
type Multipath struct {
	WWID     string
	Settings multipath.Settings
	layer    layer
}

// DeviceMatch matches INQUIRY vendor and product with unanchored POSIX
// extended regular expressions. In a blacklist an expression may start
// with "!" to match what it does not match; an entry with neither vendor
// nor product matches nothing.
type DeviceMatch struct {
	Vendor, Product string
	// Revision is recorded but not compared: gomp matches devices
	// entries by vendor and product only.
	Revision        string
	vendor, product *confRegexp
	line            int
}

func (m *DeviceMatch) matches(vendor, product string) bool {
	if m.vendor == nil && m.product == nil {
		return false
	}
	return (m.vendor == nil || m.vendor.match(vendor)) && (m.product == nil || m.product.match(product))
}

// confRegexp is a multipath.conf regular expression, possibly inverted
// by a leading "!" (blacklists only).
type confRegexp struct {
	re     *regexp.Regexp
	invert bool
}

func (r *confRegexp) match(s string) bool { return r.re.MatchString(s) != r.invert }

// Blacklist is a blacklist or blacklist_exceptions section. wwid and
// device entries are honoured, and protocol entries are matched against
// "scsi:iscsi", the protocol of every gomp path; devnode and property
// entries are kept for display only.
type Blacklist struct {
	WWIDs     []string // unanchored regular expressions, as written
	Protocols []string
	Devices   []DeviceMatch
	wwids     []*confRegexp
	protocols []*confRegexp
	ignored   []rawSetting // devnode and property entries
	lines     []int        // line of each WWIDs entry
	protoLine []int
}

// pathProtocol is what multipath-tools' blacklist protocol entries see
// for an iSCSI path.
const pathProtocol = "scsi:iscsi"

func (b *Blacklist) matches(wwid, vendor, product string) bool {
	for _, re := range b.wwids {
		if re.match(wwid) {
			return true
		}
	}
	for _, re := range b.protocols {
		if re.match(pathProtocol) {
			return true
		}
	}
	for i := range b.Devices {
		if b.Devices[i].matches(vendor, product) {
			return true
		}
	}
	return false
}

var _ multipath.ConfigFile = (*File)(nil)

// Global returns the settings every LUN gets whatever its identity: the
// defaults section, then overrides.
func (f *File) Global() multipath.Settings { return f.Defaults.Overlay(f.Overrides) }

// String returns the file's name.
func (f *File) String() string { return f.Name }

// Blacklisted reports whether a LUN is blacklisted and not excepted.
func (f *File) Blacklisted(wwid, vendor, product string) bool {
	return f.Blacklist.matches(wwid, vendor, product) &&
		!f.BlacklistExceptions.matches(wwid, vendor, product)
}

// Lookup returns the file's settings for a LUN, layered as multipath-tools
// does: defaults, then every matching devices entry in file order, then
// overrides, then the multipaths entry for the WWID.
func (f *File) Lookup(wwid, vendor, product string) multipath.Settings {
	s := f.Defaults
	for i := range f.Devices {
		if f.Devices[i].matches(vendor, product) {
			s = s.Overlay(f.Devices[i].Settings)
		}
	}
	s = s.Overlay(f.Overrides)
	for _, m := range f.Multipaths {
		if m.WWID == wwid {
			s = s.Overlay(m.Settings)
		}
	}
	return s
}

// layer records, for one section, the line of each keyword gomp applied
// and the keywords it ignored.
type layer struct {
	line    int            // line of the section keyword
	lines   map[string]int // keyword -> line of the value in effect
	ignored []rawSetting
}

func (l *layer) set(key string, line int) {
	if l.lines == nil {
		l.lines = map[string]int{}
	}
	l.lines[key] = line
}

// under returns l merged over base: l's lines win.
func (l layer) under(base layer) layer {
	out := layer{line: l.line, lines: map[string]int{}}
	for k, v := range base.lines {
		out.lines[k] = v
	}
	for k, v := range l.lines {
		out.lines[k] = v
	}
	out.ignored = append(append(out.ignored, base.ignored...), l.ignored...)
	return out
}

// rawSetting is a keyword and its value as written.
type rawSetting struct {
	key, value string
	line       int
}

// Warning is a non-fatal remark about a configuration file, such as an
// unknown keyword or a slip that multipath-tools tolerates.
type Warning struct {
	File string
	Line int
	Msg  string
}

// String returns "FILE:LINE: message".
func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// SyntaxError is a statement of a configuration file that cannot be used
// as written, such as a value its keyword cannot take.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

// Error returns "FILE:LINE: message".
func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Load reads and parses a multipath.conf.
func Load(path string) (*File, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("conf: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a multipath.conf the way multipath-tools does
// (see the package documentation). Slips that multipath-tools tolerates,
// and keywords or values that mean nothing to gomp, are returned as
// warnings. Values a keyword cannot take and regular expressions that do
// not compile are errors: the error joins one *SyntaxError per offending
// line, each naming FILE:LINE, and the File is nil. Warnings are
// returned in both cases.
func Parse(name string, data []byte) (*File, []Warning, error) {
	p := &confParser{name: name}
	p.lines = p.splitConfLines(string(data))
	root := p.block(grammarTop, nil)
	f := &File{Name: name}
	p.top(f, root)
	slices.SortStableFunc(p.warns, func(a, b Warning) int { return a.Line - b.Line })
	slices.SortStableFunc(p.errs, func(a, b *SyntaxError) int { return a.Line - b.Line })
	if len(p.errs) > 0 {
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, p.warns, errors.Join(errs...)
	}
	return f, p.warns, nil
}
