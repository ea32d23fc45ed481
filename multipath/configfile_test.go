package multipath

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testFile is a ConfigFile with fixed answers: global for every LUN,
// byWWID over it for one LUN, and WWIDs starting with a blacklisted
// prefix refused. (Package multipath/conf tests the real reader.)
type testFile struct {
	global    Settings
	byWWID    map[string]Settings
	blacklist string
}

func (f *testFile) Lookup(wwid, _, _ string) Settings { return f.global.Overlay(f.byWWID[wwid]) }
func (f *testFile) Global() Settings                  { return f.global }
func (f *testFile) String() string                    { return "test.conf" }

func (f *testFile) Blacklisted(wwid, _, _ string) bool {
	return f.blacklist != "" && strings.HasPrefix(wwid, f.blacklist)
}

// TestConfigResolve: built-in defaults < the file < Config's Settings;
// the login timeout follows the file's Global polling interval.
func TestConfigResolve(t *testing.T) {
	f := &testFile{global: Settings{PollingInterval: 2 * time.Second, NoPathRetry: 8},
		byWWID: map[string]Settings{"w": {Alias: "lab_disk", Failback: FailbackManual}}}
	cfg := Config{File: f, Settings: Settings{NoPathRetry: NoPathRetryFail}}
	s := cfg.resolve("w", "IET", "VIRTUAL-DISK")
	require.Equal(t, NoPathRetryFail, s.NoPathRetry, "Config beats the file")
	require.Equal(t, "lab_disk", s.Alias)
	require.Equal(t, FailbackManual, s.Failback)
	require.Equal(t, 2*time.Second, s.PollingInterval)
	require.Equal(t, 8*time.Second, s.MaxPollingInterval, "4 × polling_interval")
	require.Equal(t, 2*time.Second, s.CheckerTimeout)
	require.Equal(t, time.Minute, s.FlapWindow)
	require.Equal(t, 2*time.Second, cfg.loginTimeout())

	def := Config{}.resolve("x", "", "")
	require.Equal(t, "service-time 0", def.PathSelector)
	require.Equal(t, DefaultNoPathRetry, def.NoPathRetry)
	require.Equal(t, FailbackImmediate, def.Failback)
	require.Equal(t, 5*time.Second, def.PollingInterval)
	require.Equal(t, 20*time.Second, def.MaxPollingInterval)
	require.Equal(t, GroupAuto, def.GroupingPolicy)

	g := &testFile{global: Settings{PollingInterval: 2 * time.Second, FlapWindowChecks: 10}}
	require.Equal(t, 20*time.Second, Config{File: g}.resolve("x", "", "").FlapWindow, "10 checks of 2 s")
}

// TestFeaturesQueueIfNoPath: features queue_if_no_path means
// no_path_retry queue only when no layer sets no_path_retry
// (multipath-tools' reconcile_features_with_options).
func TestFeaturesQueueIfNoPath(t *testing.T) {
	q := Settings{Features: "1 queue_if_no_path"}
	require.Equal(t, NoPathRetryQueue, q.WithDefaults().NoPathRetry)
	require.Equal(t, NoPathRetry(5), Settings{NoPathRetry: 5}.Overlay(q).WithDefaults().NoPathRetry)
	require.Equal(t, DefaultNoPathRetry, Settings{Features: "0"}.WithDefaults().NoPathRetry)
}
