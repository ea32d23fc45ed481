package multipath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const sampleConf = `# /etc/multipath.conf as an administrator writes it
defaults {
	user_friendly_names yes
	find_multipaths     yes
	polling_interval    2
	path_selector       "round-robin 0"
	path_grouping_policy multibus
	failback            immediate
	no_path_retry       5
	rr_min_io_rq        4
	verbosity           2      # no effect in gomp
	fancy_new_key       1
}
blacklist {
	wwid "^3600508b1001c"      ! local RAID
	devnode "^sd[a]$"
	device {
		vendor  "DELL"
		product "PERC.*"
	}
}
blacklist_exceptions {
	wwid 3600508b1001c5ed4
}
devices {
	device {
		vendor                "IET"
		product               "VIRTUAL-DISK"
		path_grouping_policy  failover
		path_selector         "queue-length 0"
		failback              15
		no_path_retry         queue
		prio                  alua
		path_checker          tur
		hardware_handler      "1 alua"
	}
	device {
		vendor  "LIO-ORG"
		product ".*"
		path_grouping_policy group_by_prio
	}
}
overrides {
	no_path_retry 8
}
multipaths {
	multipath {
		wwid  360000000000000000e00000000010001
		alias "lab disk"
		failback manual
	}
	multipath {
		alias orphan
	}
}
`

func TestParseConfigSample(t *testing.T) {
	f, warns, err := ParseConfig("multipath.conf", []byte(sampleConf))
	require.NoError(t, err)
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.String())
	}
	require.Equal(t, []string{
		"multipath.conf:11: verbosity has no effect in gomp; ignored",
		"multipath.conf:12: unknown keyword \"fancy_new_key\" in defaults ignored",
		"multipath.conf:16: blacklist devnode ignored: gomp has no per-path block devices",
		"multipath.conf:35: hardware_handler has no effect in gomp; ignored",
		"multipath.conf:52: multipath section without wwid ignored",
	}, ws)

	require.Equal(t, Settings{UserFriendlyNames: Yes, FindMultipaths: "yes", PollingInterval: 2 * time.Second,
		PathSelector: "round-robin 0", GroupingPolicy: GroupMultibus, Failback: FailbackImmediate,
		NoPathRetry: 5, RRMinIO: 4}, f.Defaults)
	require.Len(t, f.Devices, 2)
	require.Equal(t, "IET", f.Devices[0].Vendor)
	require.Equal(t, Settings{GroupingPolicy: GroupFailover, PathSelector: "queue-length 0",
		Failback: Failback(15 * time.Second), NoPathRetry: NoPathRetryQueue, Prio: "alua"}, f.Devices[0].Settings)
	require.Equal(t, NoPathRetry(8), f.Overrides.NoPathRetry)
	require.Len(t, f.Multipaths, 1)
	require.Equal(t, "lab disk", f.Multipaths[0].Settings.Alias)

	// Layering: defaults < device < overrides < multipaths.
	s := f.Lookup("360000000000000000e00000000010001", "IET", "VIRTUAL-DISK")
	require.Equal(t, "lab disk", s.Alias)
	require.Equal(t, FailbackManual, s.Failback)
	require.Equal(t, NoPathRetry(8), s.NoPathRetry)
	require.Equal(t, GroupFailover, s.GroupingPolicy)
	require.Equal(t, "queue-length 0", s.PathSelector)
	require.Equal(t, 4, s.RRMinIO)
	s = f.Lookup("36001405abc", "LIO-ORG", "disk")
	require.Equal(t, GroupByPrio, s.GroupingPolicy)
	require.Equal(t, "round-robin 0", s.PathSelector)
	require.Empty(t, s.Alias)

	require.True(t, f.Blacklisted("3600508b1001c0000", "X", "Y"))
	require.False(t, f.Blacklisted("3600508b1001c5ed4", "X", "Y"), "exception")
	require.True(t, f.Blacklisted("36001405abc", "DELL", "PERC H730"))
	require.False(t, f.Blacklisted("36001405abc", "IET", "VIRTUAL-DISK"))
}

func TestParseConfigErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ src, want string }{
		{"defaults {\n\tpolling_interval 5\n", "f.conf:2: missing } for section \"defaults\" opened at line 1"},
		{"defaults {\n}\n}\n", "f.conf:3: unexpected }"},
		{"{\n}\n", "f.conf:1: unexpected { without a section name"},
		{"defaults {\n\tfailback sometimes\n}\n", "f.conf:2: failback: invalid failback \"sometimes\""},
		{"defaults {\n\tno_path_retry -3\n}\n", "f.conf:2: no_path_retry: invalid no_path_retry"},
		{"defaults {\n\tpolling_interval 0\n}\n", "f.conf:2: polling_interval: invalid value \"0\""},
		{"defaults {\n\tpath_selector \"weighted 0\"\n}\n", "f.conf:2: path_selector: unknown path_selector \"weighted\""},
		{"defaults {\n\tpath_grouping_policy mixed\n}\n", "f.conf:2: path_grouping_policy: unknown"},
		{"defaults {\n\tuser_friendly_names maybe\n}\n", "f.conf:2: user_friendly_names: invalid value \"maybe\""},
		{"defaults {\n\tpolling_interval\n}\n", "f.conf:2: polling_interval needs a value"},
		{"defaults {\n\talias_prefix \"mp\n}\n", "f.conf:2: unterminated quoted string"},
		{"blacklist {\n\twwid \"(\"\n}\n", "f.conf:2: wwid \"(\": error parsing regexp"},
		{"devices {\n\tdevice {\n\t\tvendor\n\t}\n}\n", "f.conf:3: vendor needs a value"},
	}
	for _, c := range cases {
		_, _, err := ParseConfig("f.conf", []byte(c.src))
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", c.src, err)
		require.Contains(t, err.Error(), c.want, c.src)
	}
}

func TestParseConfigSyntaxVariants(t *testing.T) {
	src := "defaults{polling_interval 3}\n" + // braces without spaces
		"multipaths {\n multipath { wwid 3600a\n alias \"a \"\"quoted\"\" name\" }\n}\n" +
		"defaults {\n\tpath_selector service-time 0\n\tfeatures \"1 queue_if_no_path\"\n}\n" +
		"defaults {\n\talias x\n\tno_path_retry 2\n\tfeatures \"1 queue_if_no_path\"\n}\n" +
		"odd_section {\n\tanything goes\n}\nstray_key 1\n"
	f, warns, err := ParseConfig("v.conf", []byte(src))
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, f.Defaults.PollingInterval)
	require.Equal(t, `a "quoted" name`, f.Multipaths[0].Settings.Alias)
	require.Equal(t, "service-time 0", f.Defaults.PathSelector, "unquoted multi-word value")
	require.Equal(t, NoPathRetry(2), f.Defaults.NoPathRetry, "no_path_retry wins over features")
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.String())
	}
	require.Equal(t, []string{
		`v.conf:8: features "queue_if_no_path" is deprecated; read as no_path_retry queue`,
		"v.conf:11: alias is not valid in a defaults section; ignored",
		`v.conf:15: unknown section "odd_section" ignored`,
		`v.conf:18: keyword "stray_key" outside any section ignored`,
	}, ws)
}

func TestConfigResolve(t *testing.T) {
	f, _, err := ParseConfig("m.conf", []byte(sampleConf))
	require.NoError(t, err)
	cfg := Config{File: f, Settings: Settings{NoPathRetry: NoPathRetryFail}}
	s := cfg.resolve("360000000000000000e00000000010001", "IET", "VIRTUAL-DISK")
	require.Equal(t, NoPathRetryFail, s.NoPathRetry, "Config beats the file")
	require.Equal(t, "lab disk", s.Alias)
	require.Equal(t, 2*time.Second, s.PollingInterval)
	require.Equal(t, 8*time.Second, s.MaxPollingInterval, "4 × polling_interval")
	require.Equal(t, 2*time.Second, s.CheckerTimeout)
	require.Equal(t, time.Minute, s.FlapWindow)

	def := Config{}.resolve("x", "", "")
	require.Equal(t, "service-time 0", def.PathSelector)
	require.Equal(t, DefaultNoPathRetry, def.NoPathRetry)
	require.Equal(t, FailbackImmediate, def.Failback)
	require.Equal(t, 5*time.Second, def.PollingInterval)
	require.Equal(t, 20*time.Second, def.MaxPollingInterval)
	require.Equal(t, GroupAuto, def.GroupingPolicy)

	g, _, err := ParseConfig("g.conf", []byte("defaults {\n polling_interval 2\n san_path_err_forget_rate 10\n}\n"))
	require.NoError(t, err)
	require.Equal(t, 20*time.Second, Config{File: g}.resolve("x", "", "").FlapWindow, "10 checks of 2 s")
	require.Equal(t, 2*time.Second, Config{File: g}.loginTimeout())
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "multipath.conf")
	require.NoError(t, os.WriteFile(path, []byte("defaults {\n\tbogus 1\n}\n"), 0o644))
	f, warns, err := LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, path, f.Name)
	require.Len(t, warns, 1)
	require.True(t, strings.HasPrefix(warns[0].String(), path+":2: "))
	_, _, err = LoadConfig(filepath.Join(dir, "missing.conf"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(sampleConf))
	f.Add([]byte("defaults{polling_interval 3}\nmultipaths{multipath{wwid x\nalias \"\"\"\"}}"))
	f.Add([]byte("blacklist {\n wwid .*\n device { vendor a\n product b }\n}\n"))
	f.Add([]byte("}"))
	f.Add([]byte("defaults {\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, warns, err := ParseConfig("fuzz.conf", data)
		lines := strings.Count(string(data), "\n") + 1
		for _, w := range warns {
			if w.Line < 1 || w.Line > lines || w.File != "fuzz.conf" {
				t.Fatalf("warning outside the file: %v", w)
			}
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Line > lines {
				t.Fatalf("error without a valid FILE:LINE: %v", err)
			}
			return
		}
		s := cf.Lookup("360000", "IET", "VIRTUAL-DISK")
		_ = cf.Blacklisted("360000", "IET", "VIRTUAL-DISK")
		if _, err := NewSelector(s.PathSelector, s.RRMinIO); s.PathSelector != "" && err != nil {
			t.Fatalf("accepted path_selector %q does not build: %v", s.PathSelector, err)
		}
		_ = Config{File: cf}.resolve("360000", "IET", "VIRTUAL-DISK")
	})
}
