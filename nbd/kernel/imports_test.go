package kernel

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/importcheck"
)

// TestNoGompImports keeps the kernel attach free of iSCSI and multipath: it
// attaches any nbd.Backend, and imports no gomp package but nbd.
func TestNoGompImports(t *testing.T) {
	importcheck.Check(t, importcheck.Rules{Code: []string{"nbd"}})
}
