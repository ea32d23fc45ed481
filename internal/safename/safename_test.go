package safename

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomp-dev/gomp/internal/purecheck"
	"github.com/stretchr/testify/require"
)

func TestPureCode(t *testing.T) { purecheck.Check(t) }

// hostile are identities a target or a user could send: path climbing,
// line breaks with sd_notify assignments, terminal escapes, bindings
// comments, non-ASCII, option look-alikes.
var hostile = []struct{ in, want string }{
	{"36001405abc", "36001405abc"},
	{"1IET_00010001", "1IET_00010001"},
	{"82003-01.org.example:disk,t,0x1", "82003-01.org.example:disk,t,0x1"},
	{"1GOMP /../../../etc/cron.d/x\nMAINPID=1", "1GOMP__.._.._.._etc_cron.d_x_MAINPID=1"},
	{"1A\x1b[2JB", "1A__2JB"},
	{"1a#b\r\v\f\tc", "1a_b____c"},
	{"1caf\xc3\xa9", "1caf__"},
	{"..", "_."},
	{".", "_"},
	{"-rf", "_rf"},
	{"a/b", "a_b"},
	{"", ""},
}

func TestName(t *testing.T) {
	for _, c := range hostile {
		require.Equal(t, c.want, Name(c.in), "Name(%q)", c.in)
		require.Equal(t, c.want, Name(c.want), "Name must be idempotent on %q", c.want)
	}
	long := strings.Repeat("x", 300)
	require.Len(t, Name(long), MaxLen)
}

func TestCheck(t *testing.T) {
	for _, ok := range []string{"mpatha", "lab_disk", "36001405abc", "a.b-c:d@e=f+g,h", strings.Repeat("z", MaxLen)} {
		require.NoError(t, Check(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", "-x", "a/b", "a b", "a#b", "a\nb", "x\x1b[2J", "é", strings.Repeat("z", MaxLen+1)} {
		err := Check(bad)
		require.ErrorIs(t, err, ErrInvalid, "%q", bad)
		require.NotContains(t, err.Error(), "\n")
		require.NotContains(t, err.Error(), "\x1b")
	}
}

func TestJoin(t *testing.T) {
	p, err := Join("/run/gomp", "mpatha", ".sock")
	require.NoError(t, err)
	require.Equal(t, "/run/gomp/mpatha.sock", p)
	for _, bad := range []string{"../x", "..", "a/../../b", "/etc/passwd", "x\n"} {
		_, err := Join("/run/gomp", bad, ".sock")
		require.ErrorIs(t, err, ErrInvalid, bad)
	}
	_, err = Join("/run/gomp", "a", "/../../x")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"LIO-ORG ", "LIO-ORG "},
		{"a\nb", `a\x0ab`},
		{"\x1b[2J", `\x1b[2J`},
		{`back\slash`, `back\\slash`},
		{"caf\xc3\xa9", `caf\xc3\xa9`},
		{"\x7f\x00", `\x7f\x00`},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Text(c.in))
	}
}

// FuzzName: whatever the bytes, Name's result passes Check (or is empty),
// is its own Name, and is a file name that stays in its directory; Text
// never lets a control byte through.
func FuzzName(f *testing.F) {
	for _, c := range hostile {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Name(s)
		if n == "" {
			if s != "" {
				t.Fatalf("Name(%q) is empty", s)
			}
			return
		}
		if err := Check(n); err != nil {
			t.Fatalf("Name(%q) = %q fails Check: %v", s, n, err)
		}
		if Name(n) != n {
			t.Fatalf("Name not idempotent on %q", n)
		}
		p, err := Join("/run/gomp", n, ".sock")
		if err != nil || filepath.Dir(p) != "/run/gomp" {
			t.Fatalf("Join(%q) = %q, %v", n, p, err)
		}
		for _, c := range []byte(Text(s)) {
			if c < 0x20 || c >= 0x7f {
				t.Fatalf("Text(%q) holds byte %#x", s, c)
			}
		}
		if err := Check(s); err == nil && n != s {
			t.Fatalf("Check accepts %q but Name changes it to %q", s, n)
		}
		if errors.Is(Check(s), ErrInvalid) && s == n {
			t.Fatalf("Check refuses %q which Name keeps", s)
		}
	})
}
