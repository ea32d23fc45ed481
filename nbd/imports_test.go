package nbd

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoGompImports enforces DESIGN.md: nbd knows nothing about iSCSI or
// multipath, and imports no other gomp package but the socket helper
// internal/rawio.
func TestNoGompImports(t *testing.T) {
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
			if strings.HasPrefix(path, "github.com/gomp-dev/gomp/") && path != "github.com/gomp-dev/gomp/internal/rawio" &&
				!strings.HasSuffix(name, "example_test.go") {
				t.Errorf("%s imports %q", name, path)
			}
		}
	}
}
