package testlog

import "testing"

// recorder is a testing.TB that keeps what is logged.
type recorder struct {
	testing.TB
	lines    []string
	cleanups []func()
}

func (r *recorder) Log(args ...any)  { r.lines = append(r.lines, args[0].(string)) }
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func TestLogsUntilCleanup(t *testing.T) {
	r := &recorder{TB: t}
	log := New(r)
	log.Info("first", "k", 1)
	log.Debug("below the level")
	for _, f := range r.cleanups {
		f()
	}
	log.Info("after the test")
	if len(r.lines) != 1 || r.lines[0] == "" {
		t.Fatalf("logged %q, want one line", r.lines)
	}
}
