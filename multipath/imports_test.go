package multipath

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering enforces the layering of the data path (nbd serves a
// backend; multipath is that backend, over iscsi sessions; iscsi speaks
// pdu): multipath builds on iscsi and iscsi/scsi and never reaches below
// them (pdu) or above (nbd, cmd); internal/safename is the name rule it
// shares with them.
// Tests may also use the in-process test target, and pdu to forge what a
// hostile target sends.
func TestLayering(t *testing.T) {
	const mod = "github.com/gomp-dev/gomp/"
	allowed := map[string]bool{mod + "iscsi": true, mod + "iscsi/scsi": true, mod + "multipath": true,
		mod + "internal/safename": true}
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
		test := strings.HasSuffix(name, "_test.go")
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(path, mod) || allowed[path] || (test && (path == mod+"internal/iscsitest" || path == mod+"internal/testlog" || path == mod+"pdu")) {
				continue
			}
			t.Errorf("%s imports %q", name, path)
		}
	}
}
