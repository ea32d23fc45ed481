package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/stretchr/testify/require"
)

// lab returns the lab's portals and target; it skips the test unless
// GOMP_LAB=1 says the tgtd lab of scripts/lab.sh is up.
func lab(t *testing.T) (portal1, portal2, target string) {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: `make lab-up`, then `set -a; . /run/gomp-lab/env; GOMP_LAB=1 go test ./examples/...`")
	}
	portal1, portal2, target = os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	if portal1 == "" || portal2 == "" || target == "" {
		t.Fatal("lab env GOMP_LAB_PORTAL1, GOMP_LAB_PORTAL2 or GOMP_LAB_TARGET is not set")
	}
	return portal1, portal2, target
}

// stopWriter collects what run prints and cancels run's context at the
// first write, which is the first status.
type stopWriter struct {
	cancel context.CancelFunc
	mu     sync.Mutex // guards the following
	writes []string
}

func (w *stopWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	w.cancel()
	return len(p), nil
}

func TestRunPrintsStatusOnLab(t *testing.T) {
	portal1, portal2, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	w := &stopWriter{cancel: stop}
	require.NoError(t, run(runCtx, []string{"-target", target, "-portals", portal1 + "," + portal2, "-lun", "1"}, w))
	require.NoError(t, ctx.Err(), "run returned because the first status stopped it")
	t.Logf("output:\n%s", strings.Join(w.writes, ""))

	require.GreaterOrEqual(t, len(w.writes), 2, "a status, then the close event")
	first := w.writes[0]
	require.Regexp(t, `^3[0-9a-f]+ [^,]*,[^ ]* size=[1-9]\d* selector='[^']+' queueing=(yes|no)\ngroup 0 prio=\d+ status=active\n`, first)
	for _, p := range []string{portal1, portal2} {
		require.Contains(t, first, "  "+p+" active ready completed=")
	}
	require.Regexp(t, `^\d\d:\d\d:\d\d event closed\n$`, w.writes[len(w.writes)-1], "OnEvent saw Close")
}

func TestPrintStatus(t *testing.T) {
	e := multipath.Event{Time: time.Date(2026, 11, 25, 10, 41, 7, 0, time.UTC), Kind: multipath.EventPathFailed,
		Portal: "127.0.0.2:3260", State: multipath.PathDown, Msg: "I/O error", Err: errors.New("connection reset")}
	s := multipath.Status{Name: "mpatha", Vendor: "IET", Product: "VIRTUAL-DISK", Size: 1 << 30,
		Selector: "service-time 0", Groups: []multipath.GroupStatus{{Priority: 1, State: "active", Paths: []multipath.PathStatus{
			{Portal: "127.0.0.1:3260", State: "active", Checker: "ready", Completed: 12},
			{Portal: "127.0.0.2:3260", State: "failed", Checker: "faulty", Completed: 3, Errors: 1},
		}}}}
	var b bytes.Buffer
	printStatus(&b, &e, s)
	require.Equal(t, `10:41:07 event path failed 127.0.0.2:3260 (faulty): I/O error: connection reset
mpatha IET,VIRTUAL-DISK size=1073741824 selector='service-time 0' queueing=no
group 0 prio=1 status=active
  127.0.0.1:3260 active ready completed=12 errors=0
  127.0.0.2:3260 failed faulty completed=3 errors=1
`, b.String())
}
