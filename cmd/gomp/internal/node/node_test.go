package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkKnown accepts the keys a test uses, as gomp's attach flags would.
func checkKnown(key, value string) error {
	switch key {
	case "target", "portal", "nbd", "chap-user", "chap-secret-file":
		return nil
	case "lun":
		var n int
		if _, err := fmt.Sscanf(value, "%d", &n); err != nil {
			return fmt.Errorf("lun %q: not a number", value)
		}
		return nil
	}
	return fmt.Errorf("unknown key %q", key)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	r := &Record{Name: "lab", Startup: StartupAutomatic, Settings: []Setting{
		{Key: "target", Value: "iqn.2026-11.dev.gomp:lab"},
		{Key: "portal", Value: "198.18.0.1:3260@veth-h0"},
		{Key: "portal", Value: "198.18.1.1:3260@veth-h1"},
		{Key: "chap-secret-file", Value: "/etc/gomp/lab.secret"},
	}}
	require.NoError(t, s.Save(r))

	fi, err := os.Stat(s.Path("lab"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	ents, err := os.ReadDir(filepath.Join(s.Dir, "nodes"))
	require.NoError(t, err)
	require.Len(t, ents, 1, "no temporary file may be left behind")

	got, err := s.Load("lab", checkKnown)
	require.NoError(t, err)
	require.Equal(t, StartupAutomatic, got.Startup)
	require.Equal(t, []string{"198.18.0.1:3260@veth-h0", "198.18.1.1:3260@veth-h1"}, got.Values("portal"))
	require.Equal(t, "iqn.2026-11.dev.gomp:lab", got.Value("target"))
	require.Equal(t, "", got.Value("nbd"))
	require.Equal(t, s.Path("lab"), got.File)

	// Saving again replaces the record.
	r.Startup = StartupManual
	require.NoError(t, s.Save(r))
	got, err = s.Load("lab", checkKnown)
	require.NoError(t, err)
	require.Equal(t, StartupManual, got.Startup)

	require.NoError(t, s.Remove("lab"))
	_, err = s.Load("lab", checkKnown)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, s.Remove("lab"), ErrNotFound)
}

func TestBrokenRecordNamesFileAndLineOthersStillLoad(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	require.NoError(t, s.Save(&Record{Name: "good", Startup: StartupAutomatic,
		Settings: []Setting{{Key: "target", Value: "iqn.x"}}}))
	dir := filepath.Join(s.Dir, "nodes")
	broken := map[string]struct{ body, want string }{
		"noequals":   {"startup = automatic\ntarget iqn.x\n", ":2: \"target iqn.x\": want key = value"},
		"badstartup": {"# c\n\nstartup = sometimes\n", ":3: startup \"sometimes\": want automatic or manual"},
		"unknownkey": {"target = iqn.x\ncolour = blue\n", `:2: unknown key "colour"`},
		"badvalue":   {"lun = seven\n", `:1: lun "seven": not a number`},
		"emptykey":   {" = x\n", ":1: empty key"},
	}
	for name, b := range broken {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(b.body), 0o600))
	}
	// Not records: a temporary file of an interrupted Save, an editor backup.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".good.tmp123"), []byte("junk"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good~"), []byte("junk"), 0o600))

	recs, errs := s.All(checkKnown)
	require.Len(t, recs, 1)
	require.Equal(t, "good", recs[0].Name)
	require.Len(t, errs, len(broken))
	for _, err := range errs {
		var pe *ParseError
		require.True(t, errors.As(err, &pe), "%v", err)
		b := broken[filepath.Base(pe.File)]
		require.Contains(t, err.Error(), pe.File+b.want)
	}
}

func TestParseLimits(t *testing.T) {
	_, err := Parse("big", "/x/big", make([]byte, maxRecordSize+1), nil)
	require.ErrorContains(t, err, "/x/big: 65537 bytes: larger than 65536")
	r, err := Parse("empty", "/x/empty", nil, nil)
	require.NoError(t, err)
	require.Equal(t, StartupManual, r.Startup, "startup defaults to manual, as open-iscsi's")
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"lab", "db-01", "a.b_c", "X9"} {
		require.NoError(t, CheckName(ok), ok)
	}
	for _, bad := range []string{"", ".hidden", "-flag", "a/b", "a b", "ü", string(make([]byte, 65))} {
		require.Error(t, CheckName(bad), "%q", bad)
	}
	s := Store{Dir: t.TempDir()}
	require.Error(t, s.Save(&Record{Name: "../escape"}))
	_, err := s.Load("../../etc/passwd", nil)
	require.Error(t, err)
	require.Error(t, s.Save(&Record{Name: "nl", Settings: []Setting{{Key: "target", Value: "a\nstartup = automatic"}}}),
		"a newline in a value would smuggle in a setting")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("startup = automatic\ntarget = iqn.x\nportal = 1.2.3.4@eth0\n"))
	f.Add([]byte("# c\n = \nstartup=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("f", "f", data, nil)
		if err != nil {
			return
		}
		// What parses formats and parses back the same.
		r2, err := Parse("f", "f", Format(r), nil)
		require.NoError(t, err)
		require.Equal(t, r.Startup, r2.Startup)
		require.Len(t, r2.Settings, len(r.Settings))
		for i := range r.Settings {
			require.Equal(t, r.Settings[i].Key, r2.Settings[i].Key)
			require.Equal(t, r.Settings[i].Value, r2.Settings[i].Value)
		}
	})
}
