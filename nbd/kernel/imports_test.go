package kernel

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoGompImports keeps the kernel attach free of iSCSI and multipath: it
// attaches any nbd.Backend, and imports no gomp package but nbd.
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
			if strings.HasPrefix(path, "github.com/gomp-dev/gomp/") && path != "github.com/gomp-dev/gomp/nbd" {
				t.Errorf("%s imports %q", name, path)
			}
		}
	}
}
