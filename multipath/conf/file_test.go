package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/multipath"
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
		alias "lab_disk"
		failback manual
	}
	multipath {
		alias orphan
	}
}
`

func warnStrings(warns []Warning) []string {
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.String())
	}
	return ws
}

func TestParseSample(t *testing.T) {
	f, warns, err := Parse("multipath.conf", []byte(sampleConf))
	require.NoError(t, err)
	require.Equal(t, []string{
		"multipath.conf:11: verbosity has no effect in gomp; ignored",
		`multipath.conf:12: unknown keyword "fancy_new_key" in defaults ignored`,
		"multipath.conf:16: blacklist devnode has no effect in gomp (no per-path block devices or udev properties); ignored",
		"multipath.conf:35: hardware_handler has no effect in gomp; ignored",
		"multipath.conf:52: multipath section without wwid dropped, as multipath-tools drops it",
	}, warnStrings(warns))

	require.Equal(t, multipath.Settings{UserFriendlyNames: multipath.Yes, FindMultipaths: "yes", PollingInterval: 2 * time.Second,
		PathSelector: "round-robin 0", GroupingPolicy: multipath.GroupMultibus, Failback: multipath.FailbackImmediate,
		NoPathRetry: 5, RRMinIO: 4}, f.Defaults)
	require.Len(t, f.Devices, 2)
	require.Equal(t, "IET", f.Devices[0].Vendor)
	require.Equal(t, multipath.Settings{GroupingPolicy: multipath.GroupFailover, PathSelector: "queue-length 0",
		Failback: multipath.Failback(15 * time.Second), NoPathRetry: multipath.NoPathRetryQueue, Prio: "alua"}, f.Devices[0].Settings)
	require.Equal(t, multipath.NoPathRetry(8), f.Overrides.NoPathRetry)
	require.Len(t, f.Multipaths, 1)
	require.Equal(t, "lab_disk", f.Multipaths[0].Settings.Alias)

	// Layering: defaults < device < overrides < multipaths.
	s := f.Lookup("360000000000000000e00000000010001", "IET", "VIRTUAL-DISK")
	require.Equal(t, "lab_disk", s.Alias)
	require.Equal(t, multipath.FailbackManual, s.Failback)
	require.Equal(t, multipath.NoPathRetry(8), s.NoPathRetry)
	require.Equal(t, multipath.GroupFailover, s.GroupingPolicy)
	require.Equal(t, "queue-length 0", s.PathSelector)
	require.Equal(t, 4, s.RRMinIO)
	s = f.Lookup("36001405abc", "LIO-ORG", "disk")
	require.Equal(t, multipath.GroupByPrio, s.GroupingPolicy)
	require.Equal(t, "round-robin 0", s.PathSelector)
	require.Empty(t, s.Alias)

	require.True(t, f.Blacklisted("3600508b1001c0000", "X", "Y"))
	require.False(t, f.Blacklisted("3600508b1001c5ed4", "X", "Y"), "exception")
	require.True(t, f.Blacklisted("36001405abc", "DELL", "PERC H730"))
	require.False(t, f.Blacklisted("36001405abc", "IET", "VIRTUAL-DISK"))
}

func TestLexLine(t *testing.T) {
	q := lexTok{quote: true}
	w := func(s string) lexTok { return lexTok{text: s} }
	cases := []struct {
		in   string
		want []lexTok
	}{
		{"", nil},
		{"   # comment", nil},
		{"! comment", nil},
		{"\xc2\xa0 # non-ASCII is white space", nil},
		{"defaults{", []lexTok{w("defaults"), w("{")}},
		{"}x", []lexTok{w("}"), w("x")}},
		{"key value#comment", []lexTok{w("key"), w("value")}},
		{"key val!ue", []lexTok{w("key"), w("val")}},
		{`alias "a b # c"`, []lexTok{w("alias"), q, w("a b # c"), q}},
		{`alias "say ""hi"""`, []lexTok{w("alias"), q, w(`say "hi"`), q}},
		{`alias ""`, []lexTok{w("alias"), q, q}},
		{`alias "open`, []lexTok{w("alias"), q, w("open")}},
		{`alias "`, []lexTok{w("alias"), q}},
		{`a"b"c`, []lexTok{w("a"), q, w("b"), q, w("c")}},
		{"k\xc3\xa9v", []lexTok{w("k"), w("v")}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, lexLine(c.in), "%q", c.in)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ src, want string }{
		{"defaults {\n\tfailback sometimes\n}\n", "f.conf:2: failback: invalid failback \"sometimes\""},
		{"defaults {\n\tno_path_retry -3\n}\n", "f.conf:2: no_path_retry: invalid no_path_retry"},
		{"defaults {\n\tpolling_interval 0\n}\n", "f.conf:2: polling_interval: invalid value \"0\""},
		{"defaults {\n\tpath_selector \"weighted 0\"\n}\n", "f.conf:2: path_selector: unknown path_selector \"weighted\""},
		{"defaults {\n\tpath_grouping_policy mixed\n}\n", "f.conf:2: path_grouping_policy: unknown"},
		{"defaults {\n\tuser_friendly_names maybe\n}\n", "f.conf:2: user_friendly_names: invalid value \"maybe\""},
		{"blacklist {\n\twwid \"(\"\n}\n", "f.conf:2: wwid \"(\": not a POSIX extended regular expression"},
		{"blacklist {\n\tdevnode \"!(\"\n}\n", "f.conf:2: devnode \"!(\": not a POSIX"},
		{"devices {\n\tdevice {\n\t\tvendor \"a\"\n\t\tproduct \"b\"\n\t\tproduct_blacklist \"[\"\n\t}\n}\n", "f.conf:5: product \"[\""},
	}
	for _, c := range cases {
		f, _, err := Parse("f.conf", []byte(c.src))
		require.Nil(t, f)
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", c.src, err)
		require.Contains(t, err.Error(), c.want, c.src)
	}
}

// A missing value is a slip multipath-tools tolerates: it ignores the line.
func TestParseMissingValueIsIgnored(t *testing.T) {
	f, warns, err := Parse("f.conf", []byte("defaults {\n\tpolling_interval\n}\ndevices {\n\tdevice {\n\t\tvendor\n\t\tproduct x\n\t}\n}\n"))
	require.NoError(t, err)
	require.Equal(t, []string{
		"f.conf:2: polling_interval has no value; line ignored, as multipath-tools does",
		"f.conf:5: device section without vendor or product dropped, as multipath-tools drops it",
		"f.conf:6: vendor has no value; line ignored, as multipath-tools does",
	}, warnStrings(warns))
	require.Zero(t, f.Defaults.PollingInterval)
	require.Empty(t, f.Devices)
}

// features "1 queue_if_no_path" means no_path_retry queue only when no
// layer sets no_path_retry (multipath-tools' reconcile_features_with_options).
func TestFeaturesQueueIfNoPathYieldsToNoPathRetry(t *testing.T) {
	src := `defaults {
	no_path_retry 5
}
devices {
	device {
		vendor "A"
		product "B"
		features "1 queue_if_no_path"
	}
	device {
		vendor "C"
		product "D"
		features "1 queue_if_no_path"
	}
	device {
		vendor "C"
		product "E"
		features "1 queue_if_no_path"
	}
}
overrides {
	no_path_retry fail
}
`
	f, _, err := Parse("f.conf", []byte(src))
	require.NoError(t, err)
	f.Overrides = multipath.Settings{}
	require.Equal(t, multipath.NoPathRetry(5), f.Lookup("w", "A", "B").WithDefaults().NoPathRetry, "defaults' no_path_retry wins")
	f.Defaults = multipath.Settings{}
	require.Equal(t, multipath.NoPathRetryQueue, f.Lookup("w", "C", "D").WithDefaults().NoPathRetry, "nothing sets no_path_retry")
	require.Equal(t, multipath.DefaultNoPathRetry, f.Lookup("w", "X", "Y").WithDefaults().NoPathRetry)
	g, _, err := Parse("g.conf", []byte("devices {\n device {\n  vendor C\n  product E\n  features 0\n }\n}\n"))
	require.NoError(t, err)
	require.Equal(t, multipath.DefaultNoPathRetry, g.Lookup("w", "C", "E").WithDefaults().NoPathRetry, "features 0 adds nothing")
}

func TestBlacklistInvertProtocolAndProductBlacklist(t *testing.T) {
	src := `blacklist {
	wwid "!^36001405"
	device {
	}
}
blacklist_exceptions {
	wwid "\!literal"
}
devices {
	device {
		vendor "DGC"
		product ".*"
		product_blacklist "LUNZ"
	}
}
`
	f, warns, err := Parse("f.conf", []byte(src))
	require.NoError(t, err)
	require.Equal(t, []string{"f.conf:3: blacklist device section without vendor or product matches nothing"}, warnStrings(warns))
	require.True(t, f.Blacklisted("3600a098", "X", "Y"), "inverted: everything but ^36001405")
	require.False(t, f.Blacklisted("36001405aa", "X", "Y"))
	require.True(t, f.Blacklisted("36001405aa", "DGC", "LUNZ"), "product_blacklist")
	require.False(t, f.Blacklisted("36001405aa", "DGC", "VRAID"))
	require.True(t, f.BlacklistExceptions.matches("x!literal", "", ""), `"\!" is a literal "!"`)

	p, _, err := Parse("p.conf", []byte("blacklist {\n\tprotocol \"scsi:iscsi\"\n}\nblacklist_exceptions {\n\twwid ^36001405\n}\n"))
	require.NoError(t, err)
	require.True(t, p.Blacklisted("3600a098", "X", "Y"), "every gomp path is scsi:iscsi")
	require.False(t, p.Blacklisted("36001405aa", "X", "Y"))
}

// The later of two device sections with the same strings absorbs the
// earlier one and takes its place, so a generic entry in between no
// longer overrides the earlier one's values (factorize_hwtable).
func TestDuplicateDeviceSectionsMergeIntoTheLater(t *testing.T) {
	src := `devices {
	device {
		vendor "X"
		product "Y"
		failback 10
	}
	device {
		vendor "X"
		product ".*"
		failback 20
		no_path_retry 7
	}
	device {
		vendor "X"
		product "Y"
		no_path_retry 3
	}
}
`
	f, _, err := Parse("f.conf", []byte(src))
	require.NoError(t, err)
	require.Len(t, f.Devices, 2)
	s := f.Lookup("w", "X", "Y")
	require.Equal(t, multipath.Failback(10*time.Second), s.Failback)
	require.Equal(t, multipath.NoPathRetry(3), s.NoPathRetry)
}

// TestLookupWithDefaults: a LUN's settings as a device resolves them,
// Config's own settings over the file's, built-in defaults under.
func TestLookupWithDefaults(t *testing.T) {
	f, _, err := Parse("m.conf", []byte(sampleConf))
	require.NoError(t, err)
	own := multipath.Settings{NoPathRetry: multipath.NoPathRetryFail}
	s := f.Lookup("360000000000000000e00000000010001", "IET", "VIRTUAL-DISK").Overlay(own).WithDefaults()
	require.Equal(t, multipath.NoPathRetryFail, s.NoPathRetry, "Config beats the file")
	require.Equal(t, "lab_disk", s.Alias)
	require.Equal(t, 2*time.Second, s.PollingInterval)
	require.Equal(t, 8*time.Second, s.MaxPollingInterval, "4 × polling_interval")
	require.Equal(t, 2*time.Second, s.CheckerTimeout)
	require.Equal(t, time.Minute, s.FlapWindow)
	require.Equal(t, multipath.NoPathRetry(8), f.Global().NoPathRetry, "overrides over defaults")
	require.Equal(t, 2*time.Second, f.Global().PollingInterval)

	g, _, err := Parse("g.conf", []byte("defaults {\n polling_interval 2\n san_path_err_forget_rate 10\n}\n"))
	require.NoError(t, err)
	require.Equal(t, 20*time.Second, g.Lookup("x", "", "").WithDefaults().FlapWindow, "10 checks of 2 s")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "multipath.conf")
	require.NoError(t, os.WriteFile(path, []byte("defaults {\n\tbogus 1\n}\n"), 0o644))
	f, warns, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, path, f.Name)
	require.Len(t, warns, 1)
	require.True(t, strings.HasPrefix(warns[0].String(), path+":2: "))
	_, _, err = Load(filepath.Join(dir, "missing.conf"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleConf))
	f.Add([]byte("defaults{polling_interval 3}\nmultipaths{multipath{wwid x\nalias \"\"\"\"}}"))
	f.Add([]byte("blacklist {\n wwid .*\n device { vendor a\n product b }\n}\n"))
	f.Add([]byte("}"))
	f.Add([]byte("defaults {\n\"unterminated\n"))
	f.Add([]byte("devices\n device\n  vendor \"!x\"\n  product y\n  features \"1 queue_if_no_path\"\n }\n"))
	for _, dir := range []string{"real", "warn", "error"} {
		names, _ := filepath.Glob(filepath.Join("testdata", dir, "*.conf"))
		for _, n := range names {
			if data, err := os.ReadFile(n); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return // bounded: a config file is small
		}
		cf, warns, err := Parse("fuzz.conf", data)
		lines := strings.Count(string(data), "\n") + 1
		for _, w := range warns {
			if w.Line < 1 || w.Line > lines || w.File != "fuzz.conf" {
				t.Fatalf("warning outside the file: %v", w)
			}
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Line > lines || cf != nil {
				t.Fatalf("error without a valid FILE:LINE: %v", err)
			}
			return
		}
		s := cf.Lookup("360000", "IET", "VIRTUAL-DISK")
		_ = cf.Blacklisted("360000", "IET", "VIRTUAL-DISK")
		if _, err := multipath.NewSelector(s.PathSelector, s.RRMinIO); s.PathSelector != "" && err != nil {
			t.Fatalf("accepted path_selector %q does not build: %v", s.PathSelector, err)
		}
		_ = s.WithDefaults()
		var b strings.Builder
		if err := cf.Show(&b, ShowOptions{Origins: true}); err != nil {
			t.Fatal(err)
		}
		if err := cf.Show(&b, ShowOptions{WWID: "360000", Vendor: "IET", Product: "VIRTUAL-DISK"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReservationKey(t *testing.T) {
	const wwid = "360014050000000000000000000000001"
	f, _, err := Parse("m.conf", []byte(`defaults {
	reservation_key 0x1234:aptpl
}
multipaths {
	multipath {
		wwid `+wwid+`
		reservation_key file
	}
}
`))
	require.NoError(t, err)
	require.Equal(t, "0x1234:aptpl", f.Defaults.ReservationKey)
	require.Equal(t, "file", f.Lookup(wwid, "", "").ReservationKey)
	require.Equal(t, "0x1234:aptpl", f.Lookup("3600other", "", "").ReservationKey)
	_, _, err = Parse("m.conf", []byte("defaults {\n\treservation_key 0xZZ\n}\n"))
	require.ErrorContains(t, err, "invalid reservation key")
}
