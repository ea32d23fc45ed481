package conf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/multipath"
)

// Values multipath-tools accepts for the keywords whose values it names.
var (
	dmSelectors   = []string{"round-robin", "queue-length", "service-time", "historical-service-time", "io-affinity"}
	mpPrios       = []string{"const", "sysfs", "emc", "alua", "ontap", "rdac", "hp_sw", "hds", "random", "weightedpath", "path_latency", "ana", "datacore", "iet"}
	mpCheckers    = []string{"tur", "readsector0", "directio", "emc_clariion", "hp_sw", "rdac", "cciss_tur", "none"}
	findMultipath = []string{"yes", "no", "on", "off", "strict", "greedy", "smart", "1", "0"}
)

// argCount checks a value that starts its argument list with a count, as
// multipath-tools' set_arg_str does for path_selector (count after the
// name, idx 1) and features (idx 0). It returns the fields.
func argCount(key, v string, idx int) ([]string, error) {
	f := strings.Fields(v)
	if len(f) <= idx {
		return nil, warnIgnored(fmt.Sprintf("%s %q lacks its argument count; ignored, as multipath-tools does", key, v))
	}
	n, err := strconv.Atoi(f[idx])
	if err != nil || n < 0 {
		return nil, warnIgnored(fmt.Sprintf("%s %q lacks its argument count; ignored, as multipath-tools does", key, v))
	}
	if n != len(f)-idx-1 {
		return nil, warnIgnored(fmt.Sprintf("%s %q: argument count %d, but %d arguments; ignored, as multipath-tools does", key, v, n, len(f)-idx-1))
	}
	return f, nil
}

func setSelector(s *multipath.Settings, v string) error {
	if name, _, _ := strings.Cut(strings.TrimSpace(v), " "); name != "" && !slices.Contains(dmSelectors, name) {
		return fmt.Errorf("unknown path_selector %q (want round-robin 0, queue-length 0 or service-time 0)", name)
	}
	f, err := argCount("path_selector", v, 1)
	switch {
	case err != nil:
		return err
	case f[0] == "historical-service-time" || f[0] == "io-affinity":
		return warnIgnored(fmt.Sprintf("path_selector %q not implemented in gomp; ignored", v))
	case len(f) > 2:
		return warnIgnored(fmt.Sprintf("path_selector %q: selector arguments are not implemented in gomp; ignored", v))
	}
	s.PathSelector = f[0] + " 0"
	return nil
}

func setGrouping(s *multipath.Settings, v string) error {
	return s.GroupingPolicy.UnmarshalText([]byte(v))
}

func setFailback(s *multipath.Settings, v string) error {
	if v == "0" {
		return warnIgnored(`failback 0 means "not set" to multipath-tools; ignored (the next layer applies)`)
	}
	return s.Failback.UnmarshalText([]byte(v))
}

func setNoPathRetry(s *multipath.Settings, v string) error {
	return s.NoPathRetry.UnmarshalText([]byte(v))
}

func setFindMultipaths(s *multipath.Settings, v string) error {
	if !slices.Contains(findMultipath, v) {
		return fmt.Errorf("invalid value %q (want yes, no, strict, greedy or smart)", v)
	}
	s.FindMultipaths = v
	return nil
}

func setPrio(s *multipath.Settings, v string) error {
	switch {
	case v == "alua" || v == "const":
		s.Prio = v
		return nil
	case v == "sysfs":
		s.Prio = "alua"
		return warnOnly(`prio "sysfs" (the kernel's ALUA state) read as alua`)
	case slices.Contains(mpPrios, v):
		return warnIgnored(fmt.Sprintf("prio %q not implemented in gomp; ignored (ALUA priorities are used when the target reports ALUA)", v))
	}
	return fmt.Errorf("unknown prioritizer %q (multipath-tools has %s)", v, strings.Join(mpPrios, ", "))
}

func setChecker(_ *multipath.Settings, v string) error {
	switch {
	case v == "tur":
		return nil
	case slices.Contains(mpCheckers, v):
		return warnIgnored(fmt.Sprintf("path_checker %q not implemented in gomp; ignored (gomp checks paths with tur)", v))
	}
	return fmt.Errorf("unknown path checker %q (multipath-tools has %s)", v, strings.Join(mpCheckers, ", "))
}

// setFeatures keeps the features string: of the device-mapper features
// gomp honours only queue_if_no_path, the old spelling of no_path_retry
// queue, which applies when no layer sets no_path_retry (as
// multipath-tools' reconcile_features_with_options does).
func setFeatures(s *multipath.Settings, v string) error {
	f, err := argCount("features", v, 0)
	if err != nil {
		return err
	}
	s.Features = strings.Join(f, " ")
	var msgs []string
	if slices.Contains(f[1:], "queue_if_no_path") {
		msgs = append(msgs, `features "queue_if_no_path" is deprecated; read as no_path_retry queue unless a no_path_retry applies, as multipath-tools does`)
	}
	if rest := slices.DeleteFunc(slices.Clone(f[1:]), func(x string) bool { return x == "queue_if_no_path" }); len(rest) > 0 {
		msgs = append(msgs, fmt.Sprintf("features %q have no effect in gomp", strings.Join(rest, " ")))
	}
	if len(msgs) > 0 {
		return warnOnly(strings.Join(msgs, "; "))
	}
	return nil
}
