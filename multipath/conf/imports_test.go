package conf

import (
	"testing"

	"github.com/gomp-dev/gomp/internal/importcheck"
)

// TestLayering: conf sits on top of multipath (whose Settings it fills
// and whose File it implements) and uses nothing else of gomp but
// internal/safename, the name rule aliases follow. multipath never
// imports conf (the compiler refuses the cycle).
func TestLayering(t *testing.T) {
	importcheck.Check(t, importcheck.Rules{Code: []string{"multipath", "multipath/conf", "internal/safename"}})
}
