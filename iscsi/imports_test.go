package iscsi

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/importcheck"
)

// TestLayering: iscsi speaks pdu and iscsi/scsi and knows nothing of paths
// or NBD (multipath, nbd, cmd); its own internal packages, the socket
// helper internal/rawio and the name rule internal/safename are all it
// uses besides. Tests may also use the in-process target.
func TestLayering(t *testing.T) {
	importcheck.Check(t, importcheck.Rules{
		Code: []string{"pdu", "iscsi", "iscsi/scsi", "iscsi/internal/chap", "iscsi/internal/negotiate",
			"iscsi/internal/serial", "internal/rawio", "internal/safename"},
		Tests: []string{"internal/iscsitest"}})
}
