package conf

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/internal/safename"

	"github.com/gomp-dev/gomp/multipath"
)

// grammar is one level of multipath.conf: the keywords multipath-tools
// knows there (libmultipath/dict.c, init_keywords, as of 0.14).
type grammar struct {
	name string // section keyword; "" for the top level
	path string // for messages: "devices/device"
	keys map[string]grammarKey
}

// grammarKey is one keyword; sub is set for sections.
type grammarKey struct {
	sub   *grammar
	multi bool // may repeat without a "duplicate" warning
}

func (g *grammar) where() string {
	if g.name == "" {
		return "the top level"
	}
	return g.path
}

func newGrammar(path, plain string, multi string, subs map[string]*grammar) *grammar {
	name := path[strings.LastIndexByte(path, '/')+1:]
	g := &grammar{name: name, path: path, keys: map[string]grammarKey{}}
	for _, k := range strings.Fields(plain) {
		g.keys[k] = grammarKey{}
	}
	for _, k := range strings.Fields(multi) {
		g.keys[k] = grammarKey{multi: true}
	}
	for k, sub := range subs {
		g.keys[k] = grammarKey{sub: sub, multi: sub.name == "device" || sub.name == "multipath" || sub.name == "protocol"}
	}
	return g
}

// Keywords per section, as multipath-tools 0.14 installs them.
const (
	tunedKeys = `path_grouping_policy path_selector prio prio_args failback rr_weight
		no_path_retry rr_min_io rr_min_io_rq flush_on_last_del features user_friendly_names
		deferred_remove delay_watch_checks delay_wait_checks san_path_err_threshold
		san_path_err_forget_rate san_path_err_recovery_time marginal_path_err_sample_time
		marginal_path_err_rate_threshold marginal_path_err_recheck_gap_time
		marginal_path_double_failed_time skip_kpartx purge_disconnected max_sectors_kb ghost_delay `
	hwKeys = tunedKeys + `uid_attribute getuid_callout path_checker checker alias_prefix
		fast_io_fail_tmo dev_loss_tmo eh_deadline retain_attached_hw_handler detect_prio
		detect_checker detect_pgpolicy detect_pgpolicy_use_tpg all_tg_pt recheck_wwid `
	defaultsKeys = hwKeys + `verbosity polling_interval max_polling_interval reassign_maps
		multipath_dir uid_attrs max_fds queue_without_daemon checker_timeout allow_usb_devices
		pg_timeout mode uid gid max_retries bindings_file wwids_file prkeys_file log_checker_err
		reservation_key force_sync strict_timing partition_delimiter config_dir
		find_multipaths uxsock_timeout retrigger_tries retrigger_delay missing_uev_wait_timeout
		disable_changed_wwids remove_retries auto_resize find_multipaths_timeout enable_foreign
		marginal_pathgroups`
	deviceKeys    = hwKeys + `vendor product revision product_blacklist hardware_handler pg_timeout vpd_vendor`
	multipathKeys = tunedKeys + `wwid alias pg_timeout mode uid gid reservation_key`
)

var (
	grammarBlacklistDevice = newGrammar("blacklist/device", "vendor product", "", nil)
	grammarExceptionDevice = newGrammar("blacklist_exceptions/device", "vendor product", "", nil)
	grammarDefaults        = newGrammar("defaults", defaultsKeys, "", nil)
	grammarDevice          = newGrammar("devices/device", deviceKeys, "", nil)
	grammarProtocol        = newGrammar("overrides/protocol", "type fast_io_fail_tmo dev_loss_tmo eh_deadline", "", nil)
	grammarOverrides       = newGrammar("overrides", hwKeys, "", map[string]*grammar{"protocol": grammarProtocol})
	grammarMultipath       = newGrammar("multipaths/multipath", multipathKeys, "", nil)

	grammarTop = newGrammar("", "", "", map[string]*grammar{
		"defaults":             grammarDefaults,
		"blacklist":            newGrammar("blacklist", "", "devnode wwid property protocol", map[string]*grammar{"device": grammarBlacklistDevice}),
		"blacklist_exceptions": newGrammar("blacklist_exceptions", "", "devnode wwid property protocol", map[string]*grammar{"device": grammarExceptionDevice}),
		"devices":              newGrammar("devices", "", "", map[string]*grammar{"device": grammarDevice}),
		"overrides":            grammarOverrides,
		"multipaths":           newGrammar("multipaths", "", "", map[string]*grammar{"multipath": grammarMultipath}),
	})
)

// sectionKeywords open a section even without a "{" (multipath-tools'
// is_sublevel_keyword). overrides and protocol are not among them: for
// those a missing "{" leaves the line without a value, and ignored.
var sectionKeywords = map[string]bool{
	"defaults": true, "blacklist": true, "blacklist_exceptions": true, "devices": true,
	"device": true, "multipaths": true, "multipath": true,
}

// knownAnywhere reports whether multipath-tools knows key in some section.
func knownAnywhere(key string) bool {
	for _, g := range []*grammar{grammarTop, grammarDefaults, grammarDevice, grammarOverrides,
		grammarMultipath, grammarProtocol, grammarBlacklistDevice, grammarTop.keys["blacklist"].sub,
		grammarTop.keys["devices"].sub, grammarTop.keys["multipaths"].sub} {
		if _, ok := g.keys[key]; ok {
			return true
		}
	}
	return false
}

// obsoleteKeys are keywords older multipath-tools knew and current ones
// reject as invalid, with what replaced them.
var obsoleteKeys = map[string]string{
	"default_selector":             "removed in 0.9; use path_selector",
	"default_path_grouping_policy": "removed in 0.9; use path_grouping_policy",
	"default_uid_attribute":        "removed in 0.9; use uid_attribute",
	"default_getuid_callout":       "removed in 0.9",
	"default_features":             "removed in 0.9; use features",
	"default_path_checker":         "removed in 0.9; use path_checker",
	"devnode_blacklist":            "removed in 0.9; use blacklist",
	"default_prio_callout":         "removed in 0.4.8; use prio",
	"prio_callout":                 "removed in 0.4.8; use prio",
	"selector":                     "removed in 0.4.9; use path_selector",
	"udev_dir":                     "removed in 0.5",
	"multipath_tool":               "removed in 0.4.5",
}

// deprecatedKeys are keywords multipath-tools still accepts but ignores,
// using its built-in value.
var deprecatedKeys = map[string]bool{
	"multipath_dir": true, "config_dir": true, "getuid_callout": true, "pg_timeout": true,
	"disable_changed_wwids": true, "wwids_file": true, "prkeys_file": true,
}

// settingKeys are the keywords gomp honours, with how each sets Settings.
// A setter's warnOnly and warnIgnored are warnings; any other error is an
// error.
var settingKeys = map[string]func(s *multipath.Settings, v string) error{
	"path_selector":              setSelector,
	"path_grouping_policy":       setGrouping,
	"failback":                   setFailback,
	"no_path_retry":              setNoPathRetry,
	"rr_min_io_rq":               intKey(0, func(s *multipath.Settings, n int) { s.RRMinIO = n }),
	"san_path_err_threshold":     offIntKey(-1, func(s *multipath.Settings, n int) { s.FlapThreshold = n }),
	"san_path_err_forget_rate":   offIntKey(0, func(s *multipath.Settings, n int) { s.FlapWindowChecks = n }),
	"san_path_err_recovery_time": offIntKey(0, func(s *multipath.Settings, n int) { s.FlapHold = time.Duration(n) * time.Second }),
	"user_friendly_names":        func(s *multipath.Settings, v string) error { return s.UserFriendlyNames.UnmarshalText([]byte(v)) },
	"alias_prefix":               nameKey("a", func(s *multipath.Settings, v string) { s.AliasPrefix = v }),
	"alias":                      nameKey("", func(s *multipath.Settings, v string) { s.Alias = v }),
	"polling_interval":           secondsKey(1, func(s *multipath.Settings, d time.Duration) { s.PollingInterval = d }),
	"max_polling_interval":       secondsKey(0, func(s *multipath.Settings, d time.Duration) { s.MaxPollingInterval = d }),
	"checker_timeout":            secondsKey(0, func(s *multipath.Settings, d time.Duration) { s.CheckerTimeout = d }),
	"bindings_file":              setBindingsFile,
	"find_multipaths":            setFindMultipaths,
	"prio":                       setPrio,
	"path_checker":               setChecker,
	"checker":                    setChecker,
	"features":                   setFeatures,
	"reservation_key":            setReservationKey,
}

// settings applies the keywords of one defaults, device, overrides or
// multipath section to s and records where each came from in l. Keywords
// gomp does not honour are warnings.
func (p *confParser) settings(s *multipath.Settings, l *layer, kids []*node, where string) {
	for _, n := range kids {
		k := n.key
		set, ok := settingKeys[k]
		switch {
		case n.section:
			p.warnf(n.line, "%s section in %s has no effect in gomp (no SCSI transport tunables); ignored", k, where)
			continue
		case !ok:
			l.ignored = append(l.ignored, rawSetting{key: k, value: n.value, line: n.line})
			if deprecatedKeys[k] {
				p.warnf(n.line, "%s is deprecated; ignored, as multipath-tools does", k)
			} else {
				p.warnf(n.line, "%s has no effect in gomp; ignored", k)
			}
			continue
		}
		switch err := set(s, n.value).(type) {
		case nil:
			l.set(k, n.line)
		case warnOnly:
			p.warnf(n.line, "%s", string(err))
			l.set(k, n.line)
		case warnIgnored:
			p.warnf(n.line, "%s", string(err))
		default:
			p.errorf(n.line, "%s: %v", k, err)
		}
	}
}

// warnOnly is a value gomp accepts with a remark; the setter has applied
// whatever of it gomp uses.
type warnOnly string

func (w warnOnly) Error() string { return string(w) }

// warnIgnored is a value that multipath-tools accepts and gomp ignores
// (or that multipath-tools itself ignores): the layer below applies.
type warnIgnored string

func (w warnIgnored) Error() string { return string(w) }

// parseConfInt reads an integer as multipath-tools' do_set_int does
// (decimal, trailing white space allowed).
func parseConfInt(v string) (int, error) {
	return strconv.Atoi(strings.TrimRight(v, " \t\n\v\f\r"))
}

func intKey(minimum int, f func(*multipath.Settings, int)) func(*multipath.Settings, string) error {
	return func(s *multipath.Settings, v string) error {
		n, err := parseConfInt(v)
		if err != nil || n < minimum {
			return fmt.Errorf("invalid value %q (want an integer >= %d)", v, minimum)
		}
		f(s, n)
		return nil
	}
}

// offIntKey reads "no" or 0 as off (stored as off, 0 meaning unset) or a
// positive integer.
func offIntKey(off int, f func(*multipath.Settings, int)) func(*multipath.Settings, string) error {
	return func(s *multipath.Settings, v string) error {
		if v == "no" || v == "0" {
			f(s, off)
			return nil
		}
		n, err := parseConfInt(v)
		if err != nil || n < 1 {
			return fmt.Errorf("invalid value %q (want no or an integer >= 1)", v)
		}
		f(s, n)
		return nil
	}
}

func secondsKey(minimum int, f func(*multipath.Settings, time.Duration)) func(*multipath.Settings, string) error {
	return intKey(minimum, func(s *multipath.Settings, n int) { f(s, time.Duration(n)*time.Second) })
}

// nameKey accepts a value that, followed by suffix, passes safename.Check:
// the rule every device name follows (--alias, bindings, node records).
func nameKey(suffix string, f func(*multipath.Settings, string)) func(*multipath.Settings, string) error {
	return func(s *multipath.Settings, v string) error {
		if err := safename.Check(v + suffix); err != nil {
			return err
		}
		f(s, v)
		return nil
	}
}

func setBindingsFile(s *multipath.Settings, v string) error {
	s.BindingsFile = v
	return warnOnly("bindings_file is deprecated (multipath-tools 0.9.7 and later ignore it and use /etc/multipath/bindings); gomp still honours it")
}

// setReservationKey accepts "file" or a key multipath.ParseReservationKey
// reads.
func setReservationKey(s *multipath.Settings, v string) error {
	if v != multipath.ReservationKeyFile {
		if _, _, err := multipath.ParseReservationKey(v); err != nil {
			return err
		}
	}
	s.ReservationKey = v
	return nil
}
