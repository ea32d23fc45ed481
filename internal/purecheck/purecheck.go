// Package purecheck is a test helper for packages that must stay pure
// code (pdu, iscsi/scsi: encoders and decoders whose output depends only
// on their input): no goroutines, and no imports of the network, clocks,
// logging, the OS, synchronisation or other gomp
// packages (except the pure ones listed in pure, such as internal/safename).
package purecheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbidden are the imports that would bring I/O, time, logging or
// concurrency into pure code.
var forbidden = map[string]bool{"net": true, "time": true, "log": true, "log/slog": true,
	"os": true, "syscall": true, "sync": true, "context": true, "unsafe": true}

// pure are the gomp packages that are pure code themselves (each checks
// that with Check) and so may be imported by pure code.
var pure = map[string]bool{"github.com/gomp-dev/gomp/internal/safename": true}

// Check parses the non-test Go files of the current directory (the package
// under test) and reports every forbidden import (also net/... and
// github.com/gomp-dev/gomp/...) and every go statement.
func Check(t testing.TB) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[path] || strings.HasPrefix(path, "net/") ||
				strings.HasPrefix(path, "github.com/gomp-dev/gomp/") && !pure[path] {
				t.Errorf("%s imports %q", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s: go statement at %v", name, fset.Position(g.Pos()))
			}
			return true
		})
	}
}
