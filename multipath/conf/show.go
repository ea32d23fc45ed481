package conf

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/multipath"
)

// ShowOptions selects what Show prints.
type ShowOptions struct {
	// WWID, Vendor and Product select one LUN: its effective settings
	// are printed. With none of them set, the whole configuration is.
	WWID, Vendor, Product string
	// Origins annotates each value with where it came from: "built-in"
	// or FILE:LINE and the section.
	Origins bool
}

// showKey is one keyword gomp honours, as config show prints it.
type showKey struct {
	key   string
	scope string // "defaults": only there; "multipath": only there; "": every settings section
	get   func(s multipath.Settings) string
}

func secs(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}

func unsetIf[T comparable](v, unset T, s string) string {
	if v == unset {
		return ""
	}
	return s
}

var showKeys = []showKey{
	{"polling_interval", "defaults", func(s multipath.Settings) string { return secs(s.PollingInterval) }},
	{"max_polling_interval", "defaults", func(s multipath.Settings) string { return secs(s.MaxPollingInterval) }},
	{"checker_timeout", "defaults", func(s multipath.Settings) string { return secs(s.CheckerTimeout) }},
	{"find_multipaths", "defaults", func(s multipath.Settings) string { return s.FindMultipaths }},
	{"bindings_file", "defaults", func(s multipath.Settings) string { return s.BindingsFile }},
	{"user_friendly_names", "", func(s multipath.Settings) string {
		return unsetIf(s.UserFriendlyNames, multipath.Unset, s.UserFriendlyNames.String())
	}},
	{"alias_prefix", "", func(s multipath.Settings) string { return s.AliasPrefix }},
	{"path_selector", "", func(s multipath.Settings) string { return s.PathSelector }},
	{"path_grouping_policy", "", func(s multipath.Settings) string { return string(s.GroupingPolicy) }},
	{"prio", "", func(s multipath.Settings) string { return s.Prio }},
	{"features", "", func(s multipath.Settings) string { return s.Features }},
	{"failback", "", func(s multipath.Settings) string { return unsetIf(s.Failback, 0, s.Failback.String()) }},
	{"no_path_retry", "", func(s multipath.Settings) string { return unsetIf(s.NoPathRetry, 0, s.NoPathRetry.String()) }},
	{"rr_min_io_rq", "", func(s multipath.Settings) string { return unsetIf(s.RRMinIO, 0, strconv.Itoa(s.RRMinIO)) }},
	{"san_path_err_threshold", "", flapThreshold},
	{"san_path_err_forget_rate", "", func(s multipath.Settings) string {
		return unsetIf(s.FlapWindowChecks, 0, strconv.Itoa(s.FlapWindowChecks))
	}},
	{"san_path_err_recovery_time", "", func(s multipath.Settings) string { return secs(s.FlapHold) }},
	{"alias", "multipath", func(s multipath.Settings) string { return s.Alias }},
}

func flapThreshold(s multipath.Settings) string {
	switch {
	case s.FlapThreshold == 0:
		return ""
	case s.FlapThreshold < 0:
		return "no"
	}
	return strconv.Itoa(s.FlapThreshold)
}

// confQuote spells a value as multipath-tools prints it: numbers bare,
// everything else in double quotes (a quote inside doubled).
func confQuote(v string) string {
	if _, err := strconv.Atoi(v); err == nil {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// confWriter writes multipath.conf syntax with optional origin comments.
type confWriter struct {
	w       *bufio.Writer
	origins bool
	depth   int
}

func (c *confWriter) open(section string) {
	fmt.Fprintf(c.w, "%s%s {\n", strings.Repeat("\t", c.depth), section)
	c.depth++
}

func (c *confWriter) close() {
	c.depth--
	fmt.Fprintf(c.w, "%s}\n", strings.Repeat("\t", c.depth))
}

func (c *confWriter) kv(key, value, origin string) {
	line := fmt.Sprintf("%s%s %s", strings.Repeat("\t", c.depth), key, confQuote(value))
	if c.origins && origin != "" {
		line = fmt.Sprintf("%-48s # %s", line, origin)
	}
	fmt.Fprintln(c.w, line)
}

func (c *confWriter) comment(format string, args ...any) {
	fmt.Fprintf(c.w, "%s# %s\n", strings.Repeat("\t", c.depth), fmt.Sprintf(format, args...))
}

// Show prints the configuration in multipath.conf syntax, as
// "multipath -t" does: with a LUN selected (WWID, or Vendor and Product),
// that LUN's effective settings after defaults, matching devices entries,
// overrides and its multipaths entry are merged over gomp's built-in
// defaults; otherwise the defaults section with every built-in filled in,
// then the file's other sections. Keywords gomp ignores are printed as
// comments. A nil f stands for an empty file.
func (f *File) Show(w io.Writer, o ShowOptions) error {
	if f == nil {
		f = &File{}
	}
	c := &confWriter{w: bufio.NewWriter(w), origins: o.Origins}
	if o.WWID != "" || o.Vendor != "" || o.Product != "" {
		f.writeLUN(c, o)
	} else {
		f.writeAll(c)
	}
	return c.w.Flush()
}

// origin is where a layer's keyword came from.
func (f *File) origin(l layer, section, key string) string {
	if line, ok := l.lines[key]; ok {
		return fmt.Sprintf("%s:%d %s", f.Name, line, section)
	}
	return ""
}

// namedLayer is one layer of a LUN's settings.
type namedLayer struct {
	section string
	s       multipath.Settings
	l       layer
}

// layersFor lists the layers that apply to a LUN, lowest first.
func (f *File) layersFor(wwid, vendor, product string) []namedLayer {
	ls := []namedLayer{{"defaults", f.Defaults, f.defaults}}
	for i := range f.Devices {
		if d := &f.Devices[i]; d.matches(vendor, product) {
			ls = append(ls, namedLayer{"devices", d.Settings, d.layer})
		}
	}
	ls = append(ls, namedLayer{"overrides", f.Overrides, f.overrides})
	for _, m := range f.Multipaths {
		if m.WWID == wwid {
			ls = append(ls, namedLayer{"multipaths", m.Settings, m.layer})
		}
	}
	return ls
}

// effectiveOrigin says which layer set key for the LUN.
func (f *File) effectiveOrigin(ls []namedLayer, key string) string {
	for i := len(ls) - 1; i >= 0; i-- {
		if o := f.origin(ls[i].l, ls[i].section, key); o != "" {
			return o
		}
	}
	return ""
}

// builtinOrigin explains a value no layer set.
func builtinOrigin(key string) string {
	switch key {
	case "max_polling_interval":
		return "built-in: 4 × polling_interval"
	case "checker_timeout":
		return "built-in: polling_interval"
	case "san_path_err_forget_rate":
		return "built-in: 60 s of checks"
	}
	return "built-in"
}

func (f *File) writeLUN(c *confWriter, o ShowOptions) {
	ls := f.layersFor(o.WWID, o.Vendor, o.Product)
	raw := multipath.Settings{}
	for _, l := range ls {
		raw = raw.Overlay(l.s)
	}
	eff := raw.WithDefaults()
	if eff.FlapWindowChecks == 0 && eff.PollingInterval > 0 {
		eff.FlapWindowChecks = int(eff.FlapWindow / eff.PollingInterval)
	}
	c.comment("effective settings for wwid %q vendor %q product %q", o.WWID, o.Vendor, o.Product)
	if f.Blacklisted(o.WWID, o.Vendor, o.Product) {
		c.comment("this LUN is blacklisted: gomp attach refuses it")
	}
	c.open("defaults")
	f.writeEffective(c, ls, raw, eff, "defaults")
	c.close()
	if o.WWID != "" {
		c.open("multipaths")
		c.open("multipath")
		c.kv("wwid", o.WWID, "")
	} else {
		c.open("devices")
		c.open("device")
		c.kv("vendor", o.Vendor, "")
		c.kv("product", o.Product, "")
	}
	f.writeEffective(c, ls, raw, eff, "")
	c.close()
	c.close()
}

// writeEffective prints the effective value of every key of one scope.
func (f *File) writeEffective(c *confWriter, ls []namedLayer, raw, eff multipath.Settings, scope string) {
	for _, k := range showKeys {
		if k.scope != scope && !(scope == "" && k.scope == "multipath") {
			continue
		}
		origin := f.effectiveOrigin(ls, k.key)
		if origin == "" {
			origin = builtinOrigin(k.key)
		}
		v := k.get(eff)
		switch {
		case k.key == "no_path_retry" && raw.NoPathRetry == 0 && eff.NoPathRetry == multipath.NoPathRetryQueue: // features queue_if_no_path
			origin = "from features queue_if_no_path, " + f.effectiveOrigin(ls, "features")
		case k.key == "features" && v == "":
			v = "0"
		case k.key == "path_grouping_policy" && v == "":
			c.comment("path_grouping_policy: group_by_prio when the target reports ALUA, multibus otherwise")
			continue
		case k.key == "prio" && v == "":
			c.comment("prio: alua when the target reports ALUA, const otherwise")
			continue
		}
		if v != "" {
			c.kv(k.key, v, origin)
		}
	}
	if scope == "" {
		c.kv("path_checker", "tur", "built-in: gomp checks paths with tur")
	}
}

// writeAll prints the defaults with built-ins filled in, then the file's
// sections as gomp reads them.
func (f *File) writeAll(c *confWriter) {
	eff := f.Defaults.WithDefaults()
	eff.FlapWindowChecks = int(eff.FlapWindow / eff.PollingInterval)
	ls := []namedLayer{{"defaults", f.Defaults, f.defaults}}
	c.open("defaults")
	f.writeEffective(c, ls, f.Defaults, eff, "defaults")
	f.writeEffective(c, ls, f.Defaults, eff, "")
	f.writeIgnored(c, f.defaults)
	c.close()
	f.writeBlacklist(c, "blacklist", &f.Blacklist)
	f.writeBlacklist(c, "blacklist_exceptions", &f.BlacklistExceptions)
	if len(f.Devices) > 0 {
		c.open("devices")
		for i := range f.Devices {
			d := &f.Devices[i]
			c.open("device")
			c.kv("vendor", d.Vendor, fmt.Sprintf("%s:%d", f.Name, d.line))
			c.kv("product", d.Product, "")
			if d.Revision != "" {
				c.kv("revision", d.Revision, "not compared by gomp")
			}
			f.writeLayer(c, d.Settings, d.layer, "devices")
			c.close()
		}
		c.close()
	}
	c.open("overrides")
	f.writeLayer(c, f.Overrides, f.overrides, "overrides")
	c.close()
	if len(f.Multipaths) > 0 {
		c.open("multipaths")
		for _, m := range f.Multipaths {
			c.open("multipath")
			c.kv("wwid", m.WWID, f.origin(m.layer, "multipaths", "wwid"))
			f.writeLayer(c, m.Settings, m.layer, "multipaths")
			c.close()
		}
		c.close()
	}
}

// writeLayer prints the keys one section sets.
func (f *File) writeLayer(c *confWriter, s multipath.Settings, l layer, section string) {
	for _, k := range showKeys {
		if v := k.get(s); v != "" {
			c.kv(k.key, v, f.origin(l, section, k.key))
		}
	}
	if _, ok := l.lines["path_checker"]; ok {
		c.kv("path_checker", "tur", f.origin(l, section, "path_checker"))
	}
	f.writeIgnored(c, l)
}

func (f *File) writeIgnored(c *confWriter, l layer) {
	for _, r := range l.ignored {
		c.comment("%s %s (%s:%d: no effect in gomp)", r.key, confQuote(r.value), f.Name, r.line)
	}
}

func (f *File) writeBlacklist(c *confWriter, name string, b *Blacklist) {
	if len(b.WWIDs)+len(b.Protocols)+len(b.Devices)+len(b.ignored) == 0 {
		return
	}
	c.open(name)
	for i, w := range b.WWIDs {
		c.kv("wwid", w, fmt.Sprintf("%s:%d", f.Name, b.lines[i]))
	}
	for i, p := range b.Protocols {
		c.kv("protocol", p, fmt.Sprintf("%s:%d", f.Name, b.protoLine[i]))
	}
	for _, r := range b.ignored {
		c.comment("%s %s (%s:%d: no effect in gomp)", r.key, confQuote(r.value), f.Name, r.line)
	}
	for _, d := range b.Devices {
		c.open("device")
		if d.vendor != nil {
			c.kv("vendor", d.Vendor, fmt.Sprintf("%s:%d", f.Name, d.line))
		}
		if d.product != nil {
			c.kv("product", d.Product, "")
		}
		c.close()
	}
	c.close()
}
