package pdu

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/purecheck"
)

// TestPureWireCode enforces STYLE.md rule 1: pdu does no I/O policy, starts
// no goroutines, and reads no clocks; it imports neither the network nor
// logging nor time.
func TestPureWireCode(t *testing.T) { purecheck.Check(t) }
