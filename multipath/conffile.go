package multipath

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// ConfigFile is the part of a multipath.conf that gomp uses. Parse one
// with ParseConfig or LoadConfig; Lookup and Blacklisted apply it.
type ConfigFile struct {
	Name                string // file name, for messages
	Defaults            Settings
	Overrides           Settings
	Devices             []DeviceEntry
	Multipaths          []MultipathEntry
	Blacklist           Blacklist
	BlacklistExceptions Blacklist
}

// DeviceEntry is one devices { device { … } } entry: settings for the
// LUNs whose INQUIRY vendor and product match the regular expressions.
type DeviceEntry struct {
	DeviceMatch
	Settings Settings
}

// MultipathEntry is one multipaths { multipath { … } } entry: settings,
// typically an alias, for the LUN with this exact WWID.
type MultipathEntry struct {
	WWID     string
	Settings Settings
}

// DeviceMatch matches INQUIRY vendor and product with unanchored regular
// expressions; an empty one matches everything.
type DeviceMatch struct {
	Vendor, Product string
	vendor, product *regexp.Regexp
}

func (m *DeviceMatch) matches(vendor, product string) bool {
	return (m.vendor == nil || m.vendor.MatchString(vendor)) &&
		(m.product == nil || m.product.MatchString(product))
}

// Blacklist is a blacklist or blacklist_exceptions section.
type Blacklist struct {
	WWIDs   []string // unanchored regular expressions
	Devices []DeviceMatch
	wwids   []*regexp.Regexp
}

func (b *Blacklist) matches(wwid, vendor, product string) bool {
	for _, re := range b.wwids {
		if re.MatchString(wwid) {
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

// Blacklisted reports whether a LUN is blacklisted and not excepted.
func (f *ConfigFile) Blacklisted(wwid, vendor, product string) bool {
	return f.Blacklist.matches(wwid, vendor, product) &&
		!f.BlacklistExceptions.matches(wwid, vendor, product)
}

// Lookup returns the file's settings for a LUN, layered as multipath-tools
// does: defaults, then every matching devices entry in file order, then
// overrides, then the multipaths entry for the WWID.
func (f *ConfigFile) Lookup(wwid, vendor, product string) Settings {
	s := f.Defaults
	for i := range f.Devices {
		if f.Devices[i].matches(vendor, product) {
			s = s.overlay(f.Devices[i].Settings)
		}
	}
	s = s.overlay(f.Overrides)
	for _, m := range f.Multipaths {
		if m.WWID == wwid {
			s = s.overlay(m.Settings)
		}
	}
	return s
}

// Warning is a non-fatal remark about a configuration file, such as an
// unknown keyword.
type Warning struct {
	File string
	Line int
	Msg  string
}

// String returns "FILE:LINE: message".
func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// SyntaxError is a configuration file that cannot be used as written.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

// Error returns "FILE:LINE: message".
func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LoadConfig reads and parses a multipath.conf.
func LoadConfig(path string) (*ConfigFile, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("multipath: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses multipath.conf syntax: sections "name { … }", one
// "keyword value" per line, values optionally in double quotes (a doubled
// quote inside stands for one), comments from # or ! to the end of the
// line. Unknown sections and keywords, and keywords that mean nothing to
// gomp, are returned as warnings; malformed input and invalid values are
// a *SyntaxError naming FILE:LINE.
func ParseConfig(name string, data []byte) (*ConfigFile, []Warning, error) {
	toks, err := tokenize(name, string(data))
	if err != nil {
		return nil, nil, err
	}
	p := &confParser{name: name, toks: toks}
	root, err := p.block(nil)
	if err != nil {
		return nil, nil, err
	}
	f := &ConfigFile{Name: name}
	if err := p.top(f, root); err != nil {
		return nil, p.warns, err
	}
	return f, p.warns, nil
}

// token is one word of the file; quoted words are never braces.
type token struct {
	text   string
	line   int
	quoted bool
}

func (t token) is(s string) bool { return !t.quoted && t.text == s }

func tokenize(name, src string) ([]token, error) {
	var toks []token
	for i, line := range strings.Split(src, "\n") {
		var err error
		if toks, err = tokenizeLine(toks, line, i+1); err != nil {
			return nil, &SyntaxError{File: name, Line: i + 1, Msg: err.Error()}
		}
	}
	return toks, nil
}

func tokenizeLine(toks []token, s string, line int) ([]token, error) {
	for {
		s = strings.TrimLeft(s, " \t\r\f\v")
		switch {
		case s == "" || s[0] == '#' || s[0] == '!':
			return toks, nil
		case s[0] == '{' || s[0] == '}':
			toks, s = append(toks, token{text: s[:1], line: line}), s[1:]
		case s[0] == '"':
			text, rest, err := quoted(s[1:])
			if err != nil {
				return nil, err
			}
			toks, s = append(toks, token{text: text, line: line, quoted: true}), rest
		default:
			n := strings.IndexAny(s, " \t\r\f\v{}\"")
			if n < 0 {
				n = len(s)
			}
			toks, s = append(toks, token{text: s[:n], line: line}), s[n:]
		}
	}
}

// quoted reads a quoted string after its opening quote.
func quoted(s string) (text, rest string, err error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return "", "", fmt.Errorf("unterminated quoted string")
		}
		b.WriteString(s[:i])
		if i+1 < len(s) && s[i+1] == '"' { // "" stands for one quote
			b.WriteByte('"')
			s = s[i+2:]
			continue
		}
		return b.String(), s[i+1:], nil
	}
}

// node is one statement: a keyword with its values, or a section.
type node struct {
	key      token
	value    string
	hasValue bool
	section  bool
	children []*node
}

type confParser struct {
	name  string
	toks  []token
	i     int
	warns []Warning
}

func (p *confParser) errorf(line int, format string, args ...any) error {
	return &SyntaxError{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *confParser) warnf(line int, format string, args ...any) {
	p.warns = append(p.warns, Warning{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// block parses statements up to the "}" closing open, or to the end of
// the file when open is nil.
func (p *confParser) block(open *node) ([]*node, error) {
	var out []*node
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		p.i++
		switch {
		case t.is("}") && open != nil:
			return out, nil
		case t.is("}"):
			return nil, p.errorf(t.line, "unexpected }")
		case t.is("{"):
			return nil, p.errorf(t.line, "unexpected { without a section name")
		}
		n, err := p.statement(t)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if open != nil {
		return nil, p.errorf(p.lastLine(), "missing } for section %q opened at line %d", open.key.text, open.key.line)
	}
	return out, nil
}

// statement parses what follows keyword t: values on its line, then an
// optional { section }.
func (p *confParser) statement(t token) (*node, error) {
	n := &node{key: t}
	var vals []string
	for p.i < len(p.toks) && p.toks[p.i].line == t.line && !p.toks[p.i].is("{") && !p.toks[p.i].is("}") {
		vals = append(vals, p.toks[p.i].text)
		p.i++
	}
	n.value, n.hasValue = strings.Join(vals, " "), len(vals) > 0
	if p.i < len(p.toks) && p.toks[p.i].is("{") {
		p.i++
		n.section = true
		kids, err := p.block(n)
		if err != nil {
			return nil, err
		}
		n.children = kids
	}
	return n, nil
}

func (p *confParser) lastLine() int {
	if len(p.toks) == 0 {
		return 1
	}
	return p.toks[len(p.toks)-1].line
}

// top interprets the top-level sections.
func (p *confParser) top(f *ConfigFile, root []*node) error {
	for _, n := range root {
		if !n.section {
			p.warnf(n.key.line, "keyword %q outside any section ignored", n.key.text)
			continue
		}
		var err error
		switch n.key.text {
		case "defaults":
			err = p.settings(&f.Defaults, n.children, scopeDefaults)
		case "overrides":
			err = p.settings(&f.Overrides, n.children, scopeOverrides)
		case "devices":
			err = p.devices(f, n.children)
		case "multipaths":
			err = p.multipaths(f, n.children)
		case "blacklist":
			err = p.blacklist(&f.Blacklist, n.children)
		case "blacklist_exceptions":
			err = p.blacklist(&f.BlacklistExceptions, n.children)
		default:
			p.warnf(n.key.line, "unknown section %q ignored", n.key.text)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *confParser) devices(f *ConfigFile, kids []*node) error {
	for _, n := range kids {
		if !n.section || n.key.text != "device" {
			p.warnf(n.key.line, "%q in devices ignored (only device sections belong there)", n.key.text)
			continue
		}
		var e DeviceEntry
		var rest []*node
		for _, k := range n.children {
			if err := p.matchKey(&e.DeviceMatch, k); err == errNotMatchKey {
				rest = append(rest, k)
			} else if err != nil {
				return err
			}
		}
		if err := p.settings(&e.Settings, rest, scopeDevice); err != nil {
			return err
		}
		f.Devices = append(f.Devices, e)
	}
	return nil
}

func (p *confParser) multipaths(f *ConfigFile, kids []*node) error {
	for _, n := range kids {
		if !n.section || n.key.text != "multipath" {
			p.warnf(n.key.line, "%q in multipaths ignored (only multipath sections belong there)", n.key.text)
			continue
		}
		var e MultipathEntry
		var rest []*node
		for _, k := range n.children {
			if k.key.text == "wwid" && !k.section {
				if !k.hasValue {
					return p.errorf(k.key.line, "wwid needs a value")
				}
				e.WWID = k.value
				continue
			}
			rest = append(rest, k)
		}
		if e.WWID == "" {
			p.warnf(n.key.line, "multipath section without wwid ignored")
			continue
		}
		if err := p.settings(&e.Settings, rest, scopeMultipath); err != nil {
			return err
		}
		f.Multipaths = append(f.Multipaths, e)
	}
	return nil
}

func (p *confParser) blacklist(b *Blacklist, kids []*node) error {
	for _, n := range kids {
		switch {
		case n.section && n.key.text == "device":
			var m DeviceMatch
			for _, k := range n.children {
				if err := p.matchKey(&m, k); err == errNotMatchKey {
					p.warnf(k.key.line, "%q in a blacklist device section ignored", k.key.text)
				} else if err != nil {
					return err
				}
			}
			b.Devices = append(b.Devices, m)
		case n.key.text == "wwid" && !n.section:
			re, err := p.regexp(n)
			if err != nil {
				return err
			}
			b.WWIDs, b.wwids = append(b.WWIDs, n.value), append(b.wwids, re)
		case n.key.text == "devnode" || n.key.text == "property" || n.key.text == "protocol":
			p.warnf(n.key.line, "blacklist %s ignored: gomp has no per-path block devices", n.key.text)
		default:
			p.warnf(n.key.line, "unknown blacklist keyword %q ignored", n.key.text)
		}
	}
	return nil
}

// errNotMatchKey marks a keyword that is not vendor or product.
var errNotMatchKey = fmt.Errorf("not a match keyword")

func (p *confParser) matchKey(m *DeviceMatch, n *node) error {
	if n.section || (n.key.text != "vendor" && n.key.text != "product") {
		return errNotMatchKey
	}
	re, err := p.regexp(n)
	if err != nil {
		return err
	}
	if n.key.text == "vendor" {
		m.Vendor, m.vendor = n.value, re
	} else {
		m.Product, m.product = n.value, re
	}
	return nil
}

func (p *confParser) regexp(n *node) (*regexp.Regexp, error) {
	if !n.hasValue {
		return nil, p.errorf(n.key.line, "%s needs a value", n.key.text)
	}
	re, err := regexp.Compile(n.value)
	if err != nil {
		return nil, p.errorf(n.key.line, "%s %q: %v", n.key.text, n.value, err)
	}
	return re, nil
}
