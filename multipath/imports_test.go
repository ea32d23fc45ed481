package multipath

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/importcheck"
)

// TestLayering enforces the layering of the data path (nbd serves a
// backend; multipath is that backend, over iscsi sessions; iscsi speaks
// pdu): multipath builds on iscsi and iscsi/scsi and never reaches below
// them (pdu) or above (nbd, cmd); internal/safename is the name rule it
// shares with them.
// Tests may also use the in-process test target, and pdu to forge what a
// hostile target sends.
func TestLayering(t *testing.T) {
	importcheck.Check(t, importcheck.Rules{Code: []string{"iscsi", "iscsi/scsi", "multipath", "internal/safename"},
		Tests: []string{"internal/iscsitest", "internal/testlog", "internal/tgtdtest", "pdu"}})
}
