package multipath

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/stretchr/testify/require"
)

func TestFriendlyName(t *testing.T) {
	for id, want := range map[int]string{1: "mpatha", 2: "mpathb", 26: "mpathz", 27: "mpathaa",
		52: "mpathaz", 53: "mpathba", 702: "mpathzz", 703: "mpathaaa"} {
		require.Equal(t, want, friendlyName("mpath", id), "id %d", id)
	}
}

func TestBindingsAssignAndKeep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multipath", "bindings")
	b := NewBindings(path)
	a, err := b.Alias("3600a", "mpath")
	require.NoError(t, err)
	require.Equal(t, "mpatha", a)
	a, err = b.Alias("3600b", "mpath")
	require.NoError(t, err)
	require.Equal(t, "mpathb", a)
	a, err = NewBindings(path).Alias("3600a", "mpath")
	require.NoError(t, err)
	require.Equal(t, "mpatha", a, "stable across instances")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(data), "# alias wwid\n")
	require.Contains(t, string(data), "mpatha 3600a\nmpathb 3600b\n")
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	_, err = b.Alias("bad wwid", "mpath")
	require.Error(t, err)
}

func TestBindingsFillGapsAndReadMultipathTools(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	require.NoError(t, os.WriteFile(path, []byte(
		"# Multipath bindings, Version : 1.0\nmpatha 3600a\n\nmpathc 3600c # comment\nmpathb\n"), 0o600))
	a, err := NewBindings(path).Alias("3600d", "mpath")
	require.NoError(t, err)
	require.Equal(t, "mpathb", a, "first free name; a line without a WWID binds nothing")
	a, err = NewBindings(path).Alias("3600c", "mpath")
	require.NoError(t, err)
	require.Equal(t, "mpathc", a)
}

func TestBindingsConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	var wg sync.WaitGroup
	names := make([]string, 20)
	for i := range names {
		wg.Go(func() {
			a, err := NewBindings(path).Alias("3600"+string(rune('a'+i)), "mpath")
			require.NoError(t, err)
			names[i] = a
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, n := range names {
		require.False(t, seen[n], "duplicate %s", n)
		seen[n] = true
	}
}

func TestDeviceNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bindings")
		disk := newFakeDisk()
		d := openFakes(t, testConfig(Settings{UserFriendlyNames: Yes, BindingsFile: path}), newFake(disk))
		require.Equal(t, "mpatha", d.Name())
		closeDev(t, d)
		d = openFakes(t, testConfig(Settings{UserFriendlyNames: Yes, BindingsFile: path, AliasPrefix: "gomp"}),
			newFake(disk))
		require.Equal(t, "mpatha", d.Name(), "bound already: the binding wins over the prefix")
		closeDev(t, d)

		cfg := testConfig(Settings{UserFriendlyNames: Yes, BindingsFile: path})
		cfg.File = &testFile{byWWID: map[string]Settings{testWWID: {Alias: "fromfile"}}}
		d = openFakes(t, cfg, newFake(disk))
		require.Equal(t, "fromfile", d.Name())
		closeDev(t, d)
		cfg.Alias = "explicit"
		d = openFakes(t, cfg, newFake(disk))
		require.Equal(t, "explicit", d.Name())
		closeDev(t, d)
	})
}

func TestBlacklistedLUNIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(Settings{})
		cfg.File, cfg.Portals = &testFile{blacklist: "36001405"}, []string{"p0"}
		fake := newFake(newFakeDisk())
		_, err := open(context.Background(), cfg.withDefaults(), []pathIO{fake})
		require.ErrorIs(t, err, ErrBlacklisted)
		require.True(t, fake.closed)
	})
}

// TestBindingsRoundTrip: every WWID the bindings file accepts reads back
// (a second Alias finds the first binding and appends nothing); WWIDs the
// file could not hold (a space, "#", "\r", "\v", "\f", a line break,
// non-ASCII) are refused instead of being written as a line that never
// matches, which made each attach append a new alias.
func TestBindingsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	b := NewBindings(path)
	for _, w := range []string{"36001405abc", "1IET_00010001", "82003-01.org.example:disk", "1a+b,c=d@e"} {
		a1, err := b.Alias(w, "mpath")
		require.NoError(t, err)
		before, err := os.ReadFile(path)
		require.NoError(t, err)
		a2, err := b.Alias(w, "mpath")
		require.NoError(t, err)
		require.Equal(t, a1, a2, "%q must read back", w)
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, before, after, "no second line for %q", w)
	}
	for _, w := range []string{"1a#b", "1a\rb", "1a\vb", "1a\fb", "1a\nb", "1a b", "1caf\xc3\xa9", "../x", ""} {
		_, err := b.Alias(w, "mpath")
		require.ErrorIs(t, err, safename.ErrInvalid, "%q", w)
	}
	_, err := b.Alias("3600x", "../")
	require.ErrorIs(t, err, safename.ErrInvalid, "a prefix with a slash")
}

// TestBindingsPlantedLines: a bindings file with lines naming a device
// "../x" or holding control bytes binds nothing: such a WWID gets a fresh,
// safe alias.
func TestBindingsPlantedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	require.NoError(t, os.WriteFile(path, []byte("../../etc/x 3600a\nmpath\x1b[2J 3600b\nmpatha 3600c\n"), 0o600))
	for w, want := range map[string]string{"3600a": "mpathb", "3600c": "mpatha"} {
		a, err := NewBindings(path).Alias(w, "mpath")
		require.NoError(t, err)
		require.Equal(t, want, a, w)
	}
}

// FuzzBindings: whatever the file holds, every binding parsed has an
// alias and a WWID that pass safename.Check, and a WWID that Alias accepts
// reads back from the file it wrote.
func FuzzBindings(f *testing.F) {
	f.Add([]byte("# c\nmpatha 3600a\nmpathc 3600c # x\nmpathb\n"), "3600d")
	f.Add([]byte("../x 3600a\n\x00\r\n"), "3600a")
	f.Fuzz(func(t *testing.T, data []byte, wwid string) {
		byWWID, _ := parseBindings(string(data))
		for w, a := range byWWID {
			if safename.Check(w) != nil || safename.Check(a) != nil {
				t.Fatalf("parsed binding %q %q breaks the name rule", a, w)
			}
		}
		path := filepath.Join(t.TempDir(), "bindings")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		a1, err := NewBindings(path).Alias(wwid, "mpath")
		if err != nil {
			return
		}
		a2, err := NewBindings(path).Alias(wwid, "mpath")
		if err != nil || a1 != a2 {
			t.Fatalf("WWID %q bound to %q does not read back: %q, %v", wwid, a1, a2, err)
		}
	})
}
