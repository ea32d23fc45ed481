package pdu

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/purecheck"
)

// TestPureWireCode enforces that pdu is pure wire code: it does no I/O
// policy, starts no goroutines, and reads no clocks; it imports neither
// the network nor logging nor time, so it can be tested and fuzzed byte
// for byte.
func TestPureWireCode(t *testing.T) { purecheck.Check(t) }
