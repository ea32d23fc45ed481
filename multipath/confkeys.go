package multipath

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// scope is a set of sections a keyword may appear in.
type scope uint8

const (
	scopeDefaults scope = 1 << iota
	scopeOverrides
	scopeDevice
	scopeMultipath

	scopeAll = scopeDefaults | scopeOverrides | scopeDevice | scopeMultipath
)

func (s scope) String() string {
	switch s {
	case scopeDefaults:
		return "defaults"
	case scopeOverrides:
		return "overrides"
	case scopeDevice:
		return "device"
	case scopeMultipath:
		return "multipath"
	}
	return "section"
}

// keyDef is a keyword gomp honours: where it may appear and how it sets
// Settings.
type keyDef struct {
	scopes scope
	set    func(s *Settings, v string) error
}

var settingKeys = map[string]keyDef{
	"path_selector":              {scopeAll, setSelector},
	"path_grouping_policy":       {scopeAll, setGrouping},
	"failback":                   {scopeAll, setFailback},
	"no_path_retry":              {scopeAll, setNoPathRetry},
	"rr_min_io_rq":               {scopeAll, intKey(1, func(s *Settings, n int) { s.RRMinIO = n })},
	"san_path_err_threshold":     {scopeAll, setFlapThreshold},
	"san_path_err_forget_rate":   {scopeAll, intKey(1, func(s *Settings, n int) { s.flapForgetChecks = n })},
	"san_path_err_recovery_time": {scopeAll, secondsKey(func(s *Settings, d time.Duration) { s.FlapHold = d })},
	"user_friendly_names":        {scopeAll, yesNoKey(func(s *Settings, y YesNo) { s.UserFriendlyNames = y })},
	"alias_prefix":               {scopeDefaults | scopeOverrides | scopeDevice, stringKey(func(s *Settings, v string) { s.AliasPrefix = v })},
	"alias":                      {scopeMultipath, stringKey(func(s *Settings, v string) { s.Alias = v })},
	"polling_interval":           {scopeDefaults, secondsKey(func(s *Settings, d time.Duration) { s.PollingInterval = d })},
	"max_polling_interval":       {scopeDefaults, secondsKey(func(s *Settings, d time.Duration) { s.MaxPollingInterval = d })},
	"checker_timeout":            {scopeDefaults, secondsKey(func(s *Settings, d time.Duration) { s.CheckerTimeout = d })},
	"bindings_file":              {scopeDefaults, stringKey(func(s *Settings, v string) { s.BindingsFile = v })},
	"find_multipaths":            {scopeDefaults, setFindMultipaths},
	"prio":                       {scopeAll, setPrio},
	"path_checker":               {scopeAll, setChecker},
	"checker":                    {scopeAll, setChecker},
	"features":                   {scopeAll, setFeatures},
}

// ignoredKeys are multipath-tools keywords that have no meaning for gomp
// (kernel, udev and sysfs tunables, per-path block devices).
var ignoredKeys = strings.Fields(`verbosity uid_attribute uid_attrs getuid_callout rr_weight
	rr_min_io hardware_handler fast_io_fail_tmo dev_loss_tmo eh_deadline flush_on_last_del
	queue_without_daemon max_fds retain_attached_hw_handler detect_prio detect_checker
	detect_pgpolicy detect_pgpolicy_use_tpg reservation_key deferred_remove log_checker_err
	skip_kpartx disable_changed_wwids remove_retries ghost_delay find_multipaths_timeout
	uxsock_timeout strict_timing multipath_dir config_dir wwids_file prkeys_file prio_args
	delay_watch_checks delay_wait_checks marginal_path_double_failed_time
	marginal_path_err_sample_time marginal_path_err_rate_threshold
	marginal_path_err_recheck_gap_time marginal_pathgroups all_tg_pt max_sectors_kb
	enable_foreign recheck_wwid auto_resize ignore_new_boot_devs retrigger_tries
	retrigger_delay missing_uev_wait_timeout partition_delimiter revision product_blacklist
	vpd_vendor pg_timeout mode uid gid udev_dir selector dm_timeout`)

func isIgnoredKey(k string) bool {
	for _, x := range ignoredKeys {
		if x == k {
			return true
		}
	}
	return false
}

// settings applies the keywords of one section to s.
func (p *confParser) settings(s *Settings, kids []*node, where scope) error {
	set := map[string]bool{}
	for _, n := range kids {
		k := n.key.text
		if n.section {
			p.warnf(n.key.line, "unknown section %q in %v ignored", k, where)
			continue
		}
		def, ok := settingKeys[k]
		switch {
		case !ok && isIgnoredKey(k):
			p.warnf(n.key.line, "%s has no effect in gomp; ignored", k)
			continue
		case !ok:
			p.warnf(n.key.line, "unknown keyword %q in %v ignored", k, where)
			continue
		case def.scopes&where == 0:
			p.warnf(n.key.line, "%s is not valid in a %v section; ignored", k, where)
			continue
		case !n.hasValue:
			return p.errorf(n.key.line, "%s needs a value", k)
		}
		if k == "features" && set["no_path_retry"] {
			continue // no_path_retry wins over features, as in multipath-tools
		}
		if err := def.set(s, n.value); err != nil {
			if w, ok := err.(warnOnly); ok {
				p.warnf(n.key.line, "%s", string(w))
				continue
			}
			return p.errorf(n.key.line, "%s: %v", k, err)
		}
		set[k] = true
	}
	return nil
}

// warnOnly is a value gomp accepts with a remark.
type warnOnly string

func (w warnOnly) Error() string { return string(w) }

func intKey(minimum int, f func(*Settings, int)) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < minimum {
			return fmt.Errorf("invalid value %q (want an integer >= %d)", v, minimum)
		}
		f(s, n)
		return nil
	}
}

func secondsKey(f func(*Settings, time.Duration)) func(*Settings, string) error {
	return intKey(1, func(s *Settings, n int) { f(s, time.Duration(n)*time.Second) })
}

func stringKey(f func(*Settings, string)) func(*Settings, string) error {
	return func(s *Settings, v string) error { f(s, v); return nil }
}

func yesNoKey(f func(*Settings, YesNo)) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		switch v {
		case "yes", "1", "on":
			f(s, Yes)
		case "no", "0", "off":
			f(s, No)
		default:
			return fmt.Errorf("invalid value %q (want yes or no)", v)
		}
		return nil
	}
}

func setSelector(s *Settings, v string) error {
	if _, err := NewSelector(v, 1); err != nil {
		return err
	}
	s.PathSelector = v
	return nil
}

func setGrouping(s *Settings, v string) error {
	g, err := parseGroupingPolicy(v)
	s.GroupingPolicy = g
	return err
}

func setFailback(s *Settings, v string) error {
	f, err := parseFailback(v)
	s.Failback = f
	return err
}

func setNoPathRetry(s *Settings, v string) error {
	n, err := parseNoPathRetry(v)
	s.NoPathRetry = n
	return err
}

func setFlapThreshold(s *Settings, v string) error {
	if v == "no" {
		s.FlapThreshold = -1
		return nil
	}
	return intKey(1, func(s *Settings, n int) { s.FlapThreshold = n })(s, v)
}

func setFindMultipaths(s *Settings, v string) error {
	switch v {
	case "yes", "no", "on", "off", "strict", "greedy", "smart", "1", "0":
		s.FindMultipaths = v
		return nil
	}
	return fmt.Errorf("invalid value %q (want yes, no, strict, greedy or smart)", v)
}

func setPrio(s *Settings, v string) error {
	switch v {
	case "alua", "const":
		s.Prio = v
		return nil
	}
	return warnOnly(fmt.Sprintf("prio %q not implemented; ALUA priorities are used when the target reports ALUA", v))
}

func setChecker(_ *Settings, v string) error {
	if v == "tur" {
		return nil
	}
	return warnOnly(fmt.Sprintf("path_checker %q not implemented; tur is used", v))
}

// setFeatures honours queue_if_no_path, the old spelling of no_path_retry
// queue.
func setFeatures(s *Settings, v string) error {
	if strings.Contains(v, "queue_if_no_path") {
		s.NoPathRetry = NoPathRetryQueue
		return warnOnly(`features "queue_if_no_path" is deprecated; read as no_path_retry queue`)
	}
	return warnOnly(fmt.Sprintf("features %q has no effect in gomp; ignored", v))
}
