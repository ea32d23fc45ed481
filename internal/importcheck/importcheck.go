// Package importcheck is a test helper that keeps the layering of gomp's
// packages: each package's test lists the gomp packages it may import
// (pdu → iscsi → multipath; nbd serves any backend and knows no iSCSI),
// and Check reports every other import of the module.
package importcheck

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Module is the module path every rule is relative to.
const Module = "github.com/gomp-dev/gomp/"

// Rules lists the gomp packages (paths relative to Module, such as
// "iscsi/scsi") a package may import.
type Rules struct {
	Code  []string // in every file
	Tests []string // in addition, in _test.go files
	// Examples lets example_test.go files import any gomp package: an
	// Example shows how the layers fit together.
	Examples bool
}

// Check parses the Go files of the current directory (the package under
// test) and reports every import of the module that r does not allow.
func Check(t testing.TB, r Rules) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if rel, ok := strings.CutPrefix(path, Module); ok && !r.allows(name, rel) {
				t.Errorf("%s imports %q", name, path)
			}
		}
	}
}

// allows reports whether file may import the module's package rel. Tests
// may always import this package.
func (r Rules) allows(file, rel string) bool {
	test := strings.HasSuffix(file, "_test.go")
	return slices.Contains(r.Code, rel) || test && (rel == "internal/importcheck" || slices.Contains(r.Tests, rel)) ||
		r.Examples && strings.HasSuffix(file, "example_test.go")
}
