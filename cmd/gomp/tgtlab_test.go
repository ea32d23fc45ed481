package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/gomp-dev/gomp/internal/tgtdtest"
)

// tgtLab is a tgtd of the test's own (internal/tgtdtest), beside the
// shared lab of scripts/lab.sh, so that tests using it run in make test
// without touching the shared lab's targets.
type tgtLab struct {
	*tgtdtest.Tgtd
	t *testing.T
}

// newTgtLab starts tgtd serving n portals on 127.77.0.1, .2, … It skips
// unless the lab is available (GOMP_LAB=1, root, tgtd).
func newTgtLab(t *testing.T, n int) *tgtLab {
	var hosts []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("127.77.0.%d", i+1))
	}
	return newTgtLabOn(t, hosts)
}

// newTgtLabOn starts tgtd serving a portal on each of hosts (port chosen
// by tgtdtest). It skips unless the lab is available.
func newTgtLabOn(t *testing.T, hosts []string) *tgtLab {
	lab(t)
	if os.Geteuid() != 0 {
		t.Skip("tgtd needs root")
	}
	needTool(t, "tgtd")
	needTool(t, "tgtadm")
	return &tgtLab{Tgtd: tgtdtest.Start(t, tgtdtest.Options{Hosts: hosts}), t: t}
}
