package multipath

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"

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

		f, _, err := ParseConfig("m.conf", []byte("multipaths {\n multipath {\n  wwid "+testWWID+
			"\n  alias fromfile\n }\n}\n"))
		require.NoError(t, err)
		cfg := testConfig(Settings{UserFriendlyNames: Yes, BindingsFile: path})
		cfg.File = f
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
		f, _, err := ParseConfig("m.conf", []byte("blacklist {\n wwid ^36001405\n}\n"))
		require.NoError(t, err)
		cfg := testConfig(Settings{})
		cfg.File, cfg.Portals = f, []string{"p0"}
		fake := newFake(newFakeDisk())
		_, err = open(context.Background(), cfg.withDefaults(), []pathIO{fake})
		require.ErrorIs(t, err, ErrBlacklisted)
		require.True(t, fake.closed)
	})
}
