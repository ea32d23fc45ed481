package nbd

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/importcheck"
)

// TestNoGompImports keeps nbd a plain NBD server: it knows nothing about
// iSCSI, multipath or the kernel attach of nbd/kernel, and imports no other
// gomp package but the socket helper internal/rawio; its tests may also use
// the certificate maker internal/tlstest. Its examples (example_test.go)
// may import any package: they document how the layers fit, as the
// multipath device served over NBD. nbd/kernel has its own such test.
func TestNoGompImports(t *testing.T) {
	importcheck.Check(t, importcheck.Rules{Code: []string{"internal/rawio"}, Tests: []string{"internal/tlstest"}, Examples: true})
}
