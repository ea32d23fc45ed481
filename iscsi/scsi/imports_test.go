package scsi

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/purecheck"
)

// TestPureCode: package scsi is pure functions (doc.go): it starts
// no goroutines, reads no clocks, and imports neither the network nor
// logging nor time.
func TestPureCode(t *testing.T) { purecheck.Check(t) }
