package layout

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/gomp-dev/gomp/"

// TestReadmePackageMap: every package of the module has a row in one of
// the README's package tables, and every row names a package that exists.
func TestReadmePackageMap(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", module+"...").Output()
	require.NoError(t, err)
	var tree []string
	for _, p := range strings.Fields(string(out)) {
		tree = append(tree, strings.TrimPrefix(p, module))
	}
	listed := readmePackages(t, "../../README.md")
	for _, p := range tree {
		require.Contains(t, listed, p, "package %s has no row in the README's package map", p)
	}
	for _, p := range listed {
		require.True(t, slices.Contains(tree, p), "the README's package map lists %s, which is not a package", p)
	}
}

var (
	firstCell = regexp.MustCompile(`^\|([^|]*)\|`)
	quoted    = regexp.MustCompile("`([^`]+)`")
)

// readmePackages returns the package paths named in the first column of
// the README's tables whose header is "| package".
func readmePackages(t *testing.T, path string) []string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var pkgs []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "| package"):
			in = true
		case !strings.HasPrefix(line, "|"):
			in = false
		case in:
			m := firstCell.FindStringSubmatch(line)
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				pkgs = append(pkgs, q[1])
			}
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, pkgs, "no package table in %s", path)
	return pkgs
}
