package conf

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering: conf sits on top of multipath (whose Settings it fills
// and whose File it implements) and uses nothing else of gomp but
// internal/safename, the name rule aliases follow. multipath never
// imports conf (the compiler refuses the cycle).
func TestLayering(t *testing.T) {
	const mod = "github.com/gomp-dev/gomp/"
	allowed := map[string]bool{mod + "multipath": true, mod + "multipath/conf": true, mod + "internal/safename": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, mod) && !allowed[path] {
				t.Errorf("%s imports %q", name, path)
			}
		}
	}
}
