package conf

import (
	"regexp"
	"strings"
)

// top interprets the top-level sections. Repeated sections add to each
// other, later values winning, as in multipath-tools.
func (p *confParser) top(f *File, root []*node) {
	for _, n := range root {
		switch n.key {
		case "defaults":
			f.defaults.line = n.line
			p.settings(&f.Defaults, &f.defaults, n.children, "defaults")
		case "overrides":
			f.overrides.line = n.line
			p.settings(&f.Overrides, &f.overrides, n.children, "overrides")
		case "devices":
			p.devices(f, n.children)
		case "multipaths":
			p.multipaths(f, n.children)
		case "blacklist":
			p.blacklist(&f.Blacklist, n.children, "blacklist")
		case "blacklist_exceptions":
			p.blacklist(&f.BlacklistExceptions, n.children, "blacklist_exceptions")
		}
	}
	p.factorizeDevices(f)
	p.mergeMultipaths(f)
}

// devices reads devices { device { … } } entries. An entry without vendor
// or product is dropped, as multipath-tools drops it.
func (p *confParser) devices(f *File, kids []*node) {
	for _, n := range kids {
		e := Device{DeviceMatch: DeviceMatch{line: n.line}, layer: layer{line: n.line}}
		var rest []*node
		var blProduct *node
		for _, k := range n.children {
			switch k.key {
			case "vendor", "product":
				p.matchKey(&e.DeviceMatch, k, false)
			case "revision":
				e.Revision = k.value
				p.warnf(k.line, "revision is not compared by gomp; this entry applies to every revision")
			case "product_blacklist":
				blProduct = k
			default:
				rest = append(rest, k)
			}
		}
		p.settings(&e.Settings, &e.layer, rest, "devices/device")
		if e.vendor == nil || e.product == nil {
			p.warnf(n.line, "device section without vendor or product dropped, as multipath-tools drops it")
			continue
		}
		if blProduct != nil {
			m := DeviceMatch{Vendor: e.Vendor, vendor: e.vendor, line: blProduct.line}
			p.matchKey(&m, &node{key: "product", value: blProduct.value, line: blProduct.line}, false)
			f.Blacklist.Devices = append(f.Blacklist.Devices, m)
		}
		f.Devices = append(f.Devices, e)
	}
}

// factorizeDevices merges device entries with the same vendor, product
// and revision strings into the later one, whose values win, as
// multipath-tools' factorize_hwtable does; the merged entry takes the
// later one's place in the matching order.
func (p *confParser) factorizeDevices(f *File) {
	for i := 0; i < len(f.Devices); i++ {
		a := &f.Devices[i]
		for j := i + 1; j < len(f.Devices); j++ {
			b := &f.Devices[j]
			if a.Vendor != b.Vendor || a.Product != b.Product || a.Revision != b.Revision {
				continue
			}
			p.warnf(b.line, "duplicate device section for %q %q (first at line %d); merged, values here win, as in multipath-tools", b.Vendor, b.Product, a.line)
			b.Settings = a.Settings.Overlay(b.Settings)
			b.layer = b.layer.under(a.layer)
			f.Devices = append(f.Devices[:i], f.Devices[i+1:]...)
			i--
			break
		}
	}
}

// multipaths reads multipaths { multipath { … } } entries; one without a
// wwid is dropped, as multipath-tools drops it.
func (p *confParser) multipaths(f *File, kids []*node) {
	for _, n := range kids {
		e := Multipath{layer: layer{line: n.line}}
		var rest []*node
		for _, k := range n.children {
			if k.key == "wwid" {
				e.WWID = k.value
				e.layer.set("wwid", k.line)
				continue
			}
			rest = append(rest, k)
		}
		p.settings(&e.Settings, &e.layer, rest, "multipaths/multipath")
		if e.WWID == "" {
			p.warnf(n.line, "multipath section without wwid dropped, as multipath-tools drops it")
			continue
		}
		f.Multipaths = append(f.Multipaths, e)
	}
}

// mergeMultipaths merges entries for one WWID into the later one, whose
// values win.
func (p *confParser) mergeMultipaths(f *File) {
	for i := 0; i < len(f.Multipaths); i++ {
		a := &f.Multipaths[i]
		for j := i + 1; j < len(f.Multipaths); j++ {
			b := &f.Multipaths[j]
			if a.WWID != b.WWID {
				continue
			}
			p.warnf(b.layer.line, "duplicate multipath section for %s (first at line %d); merged, values here win", b.WWID, a.layer.line)
			b.Settings = a.Settings.Overlay(b.Settings)
			b.layer = b.layer.under(a.layer)
			f.Multipaths = append(f.Multipaths[:i], f.Multipaths[i+1:]...)
			i--
			break
		}
	}
}

func (p *confParser) blacklist(b *Blacklist, kids []*node, where string) {
	for _, n := range kids {
		switch n.key {
		case "device":
			m := DeviceMatch{line: n.line}
			for _, k := range n.children {
				p.matchKey(&m, k, true)
			}
			if m.vendor == nil && m.product == nil {
				p.warnf(n.line, "%s device section without vendor or product matches nothing", where)
			}
			b.Devices = append(b.Devices, m)
		case "wwid":
			if re := p.regexp(n, true); re != nil {
				b.WWIDs, b.wwids, b.lines = append(b.WWIDs, n.value), append(b.wwids, re), append(b.lines, n.line)
			}
		case "protocol":
			if re := p.regexp(n, true); re != nil {
				b.Protocols, b.protocols, b.protoLine = append(b.Protocols, n.value), append(b.protocols, re), append(b.protoLine, n.line)
			}
		default: // devnode, property
			if p.regexp(n, true) != nil {
				b.ignored = append(b.ignored, rawSetting{key: n.key, value: n.value, line: n.line})
				p.warnf(n.line, "%s %s has no effect in gomp (no per-path block devices or udev properties); ignored", where, n.key)
			}
		}
	}
}

// matchKey sets vendor or product of m.
func (p *confParser) matchKey(m *DeviceMatch, n *node, invertible bool) {
	re := p.regexp(n, invertible)
	if re == nil {
		return
	}
	if n.key == "vendor" {
		m.Vendor, m.vendor = n.value, re
	} else {
		m.Product, m.product = n.value, re
	}
}

// regexp compiles a POSIX extended regular expression, as multipath-tools
// compiles them with regcomp(REG_EXTENDED). In blacklists a leading "!"
// inverts the match and "\!" stands for a literal "!". It records an
// error and returns nil when the expression does not compile.
func (p *confParser) regexp(n *node, invertible bool) *confRegexp {
	src, invert := n.value, false
	if invertible {
		switch {
		case strings.HasPrefix(src, "!"):
			src, invert = src[1:], true
		case strings.HasPrefix(src, `\!`):
			src = src[1:]
		}
	}
	re, err := regexp.CompilePOSIX(src)
	if err != nil {
		p.errorf(n.line, "%s %q: not a POSIX extended regular expression: %v", n.key, n.value, err)
		return nil
	}
	return &confRegexp{re: re, invert: invert}
}
