package multipath

import (
	"errors"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// Capabilities is what the device offers its users: what every path's LUN
// supports, read at Open and again whenever a path is reinstated or its
// target announces changed mode parameters or inquiry data. Its JSON form
// is part of Status.
type Capabilities struct {
	// Cache merges the paths' cache modes: the write cache counts as
	// enabled (and unknown as enabled) when any path says so, DPOFUA and
	// Known only when every path says so, write protection when any path
	// says so.
	Cache scsi.CacheMode `json:"-"`
	// CacheMode is Cache in the words of Linux's sd driver: "write cache:
	// enabled, read cache: enabled, supports DPO and FUA".
	CacheMode string `json:"cache_mode"`
	Flush     bool   `json:"flush"`      // writes need a flush to be durable: the cache is volatile
	FUA       bool   `json:"fua"`        // writes may carry FUA (DPOFUA on every path)
	ReadOnly  bool   `json:"read_only"`  // the LUN is write protected
	Trim      bool   `json:"trim"`       // UNMAP on every path, and not refused
	WriteSame bool   `json:"write_same"` // WRITE SAME(16) with UNMAP on every path
}

// mergeCaps returns what every LUN of infos supports (nil entries are
// paths not yet identified). trimRefused is set once a target refused
// UNMAP.
func mergeCaps(infos []*iscsi.LUNInfo, trimRefused bool) Capabilities {
	c := Capabilities{Cache: scsi.CacheMode{Known: true, DPOFUA: true}, Trim: !trimRefused, WriteSame: true}
	n := 0
	for _, info := range infos {
		if info == nil {
			continue
		}
		n++
		m := info.Cache
		c.Cache.Known = c.Cache.Known && m.Known
		c.Cache.WriteCache = c.Cache.WriteCache || m.WriteCache
		c.Cache.ReadCacheDisabled = c.Cache.ReadCacheDisabled || m.ReadCacheDisabled
		c.Cache.DPOFUA = c.Cache.DPOFUA && m.DPOFUA
		c.Cache.WriteProtect = c.Cache.WriteProtect || m.WriteProtect
		c.Trim = c.Trim && info.CanUnmap
		c.WriteSame = c.WriteSame && info.CanWriteSame
	}
	if n == 0 {
		return Capabilities{Cache: scsi.CacheMode{}, CacheMode: scsi.CacheMode{}.String(), Flush: true}
	}
	c.CacheMode = c.Cache.String()
	c.Flush = c.Cache.Volatile()
	c.FUA = c.Cache.DPOFUA && c.Flush && !c.Cache.WriteProtect
	c.ReadOnly = c.Cache.WriteProtect
	return c
}

// refreshCapsLocked merges the capabilities of the identified paths and
// logs a change. Device.mu held.
func (d *Device) refreshCapsLocked() {
	infos := make([]*iscsi.LUNInfo, 0, len(d.paths))
	for _, p := range d.paths {
		if p.state != PathWWIDMismatch {
			infos = append(infos, p.info)
		}
	}
	c := mergeCaps(infos, d.trimRefused.Load())
	if old := d.caps.Load(); old != nil && *old != c {
		d.log.Warn("multipath: the LUN's capabilities changed", "device", d.name, "was", old.CacheMode,
			"now", c.CacheMode, "read_only", c.ReadOnly, "trim", c.Trim)
	}
	d.caps.Store(&c)
}

// Capabilities returns what the device offers now.
func (d *Device) Capabilities() Capabilities { return *d.caps.Load() }

// CanMultiConn, CanFlush, CanFUA, ReadOnly, CanTrim and CanZero below make
// up package nbd's Capable interface (plain methods, so that this package
// need not import nbd): they decide which NBD transmission flags an NBD
// server advertises for the device.

// CanMultiConn is true: every connection reaches the same LUN cache
// through the same paths, so flushes are consistent across connections.
func (d *Device) CanMultiConn() bool { return true }

// CanFlush reports whether writes need a flush to be durable: the LUN's
// write cache is enabled (or could not be read). Flush works either way.
func (d *Device) CanFlush() bool { return d.Capabilities().Flush }

// CanFUA reports whether every path's LUN honours FUA (DPOFUA) and has a
// volatile cache for it to matter. WriteAtContext's fua works either way:
// without DPOFUA it is a write followed by SYNCHRONIZE CACHE.
func (d *Device) CanFUA() bool { return d.Capabilities().FUA }

// ReadOnly reports whether the LUN is write protected (WP).
func (d *Device) ReadOnly() bool { return d.Capabilities().ReadOnly }

// CanTrim reports whether the LUN supports UNMAP on every path and no
// target refused it.
func (d *Device) CanTrim() bool { return d.Capabilities().Trim }

// CanZero is true: WRITE SAME(16) when the LUN supports it, else writes
// of zero blocks.
func (d *Device) CanZero() bool { return true }

// trimUnsupported handles a Trim that a target refused: trims are hints,
// so the caller is told it succeeded, and the device trims no more.
func (d *Device) trimUnsupported(err error) error {
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if !d.trimRefused.Swap(true) {
		d.log.Warn("multipath: the target refused UNMAP; trims are dropped from now on", "device", d.name, "err", err)
		d.mu.Lock()
		d.refreshCapsLocked()
		d.mu.Unlock()
	}
	return nil
}
