package conf

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/multipath"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/real/*.want from the parser's warnings")

// wantRe is the corpus convention: "# want: LINE: substring" for a warning
// and "# want error: LINE: substring" for an error.
var wantRe = regexp.MustCompile(`^# want( error)?: (\d+): (.+)$`)

type confWant struct {
	err  bool
	line int
	sub  string
}

func readWants(t *testing.T, data []byte) []confWant {
	var ws []confWant
	for _, l := range strings.Split(string(data), "\n") {
		if m := wantRe.FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
			n, err := strconv.Atoi(m[2])
			require.NoError(t, err)
			ws = append(ws, confWant{err: m[1] != "", line: n, sub: m[3]})
		}
	}
	return ws
}

// checkWants asserts that every warning and error is wanted, and every
// want is met, on its line.
func checkWants(t *testing.T, name string, wants []confWant, warns []Warning, errs []*SyntaxError) {
	t.Helper()
	used := make([]bool, len(wants))
	match := func(isErr bool, line int, msg string) bool {
		for i, w := range wants {
			if !used[i] && w.err == isErr && w.line == line && strings.Contains(msg, w.sub) {
				used[i] = true
				return true
			}
		}
		return false
	}
	for _, w := range warns {
		require.Equal(t, name, w.File)
		require.True(t, match(false, w.Line, w.Msg), "unexpected warning %v", w)
	}
	for _, e := range errs {
		require.True(t, match(true, e.Line, e.Msg), "unexpected error %v", e)
	}
	for i, w := range wants {
		require.True(t, used[i], "%s: wanted but not reported: %+v", name, w)
	}
}

func syntaxErrors(err error) []*SyntaxError {
	if err == nil {
		return nil
	}
	var out []*SyntaxError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, syntaxErrors(e)...)
		}
		return out
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		out = append(out, se)
	}
	return out
}

// TestConfigCorpusBroken loads the hand-made broken files: warn/ ones load
// with exactly their wanted warnings, error/ ones fail with exactly their
// wanted errors (and warnings).
func TestConfigCorpusBroken(t *testing.T) {
	for _, dir := range []string{"warn", "error"} {
		names, err := filepath.Glob(filepath.Join("testdata", dir, "*.conf"))
		require.NoError(t, err)
		require.NotEmpty(t, names)
		for _, name := range names {
			t.Run(dir+"/"+filepath.Base(name), func(t *testing.T) {
				data, err := os.ReadFile(name)
				require.NoError(t, err)
				wants := readWants(t, data)
				require.NotEmpty(t, wants, "a corpus file states what it expects")
				f, warns, err := Parse(name, data)
				if dir == "warn" {
					require.NoError(t, err)
					require.NotNil(t, f)
				} else {
					require.Error(t, err)
					require.Nil(t, f)
				}
				checkWants(t, name, wants, warns, syntaxErrors(err))
			})
		}
	}
}

// TestConfigCorpusReal loads every collected real configuration: none has
// an error, each names its source on its first line, and its warnings are
// exactly those in NAME.want (go test -run ConfigCorpusReal -update
// rewrites them).
func TestConfigCorpusReal(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "real", "*.conf"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(names), 15)
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(data), "# source: "), "first line names the source")
			f, warns, err := Parse(filepath.Base(name), data)
			require.NoError(t, err)
			require.NotNil(t, f)
			var b strings.Builder
			for _, w := range warns {
				b.WriteString(w.String() + "\n")
			}
			golden := strings.TrimSuffix(name, ".conf") + ".want"
			if *updateGolden {
				require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), b.String())
			var out strings.Builder
			require.NoError(t, f.Show(&out, ShowOptions{Origins: true}))
			reparsed, _, err := Parse("shown.conf", []byte(out.String()))
			require.NoError(t, err, "config show's output parses:\n%s", out.String())
			require.Equal(t, exported(f.Defaults.WithDefaults()), exported(reparsed.Defaults.WithDefaults()))
			require.Equal(t, len(f.Devices), len(reparsed.Devices))
			require.Equal(t, len(f.Multipaths), len(reparsed.Multipaths))
		})
	}
}

// exported drops the fields that config show spells differently but that
// resolve the same (features "0" for none, forget rate in checks).
func exported(s multipath.Settings) multipath.Settings {
	s.Features, s.FlapWindowChecks = "", 0
	return s
}
