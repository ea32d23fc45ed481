package nbd

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoGompImports keeps nbd a plain NBD server: it knows nothing about
// iSCSI, multipath or the kernel attach of nbd/kernel, and imports no other
// gomp package but the socket helper internal/rawio; its tests may also use
// the certificate maker internal/tlstest. Its examples (example_test.go)
// may import any package: they document how the layers fit, as the
// multipath device served over NBD. nbd/kernel has its own such test.
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
			testHelper := strings.HasSuffix(name, "_test.go") && path == "github.com/gomp-dev/gomp/internal/tlstest"
			if strings.HasPrefix(path, "github.com/gomp-dev/gomp/") && path != "github.com/gomp-dev/gomp/internal/rawio" &&
				!strings.HasSuffix(name, "example_test.go") && !testHelper {
				t.Errorf("%s imports %q", name, path)
			}
		}
	}
}
