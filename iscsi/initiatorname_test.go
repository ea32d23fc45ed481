package iscsi

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseInitiatorName(t *testing.T) {
	cases := []struct {
		name, in string
		want     Identity
		err      string
	}{
		{name: "debian", in: "## DO NOT EDIT OR REMOVE THIS FILE!\nInitiatorName=iqn.1993-08.org.debian:01:5a3b6d8f9c2e\n",
			want: Identity{Name: "iqn.1993-08.org.debian:01:5a3b6d8f9c2e"}},
		{name: "alias and spaces", in: "  InitiatorName = iqn.2026-11.dev.gomp:host1 \nInitiatorAlias=db server 1\n",
			want: Identity{Name: "iqn.2026-11.dev.gomp:host1", Alias: "db server 1"}},
		{name: "eui", in: "InitiatorName=eui.02004567A425678D\n", want: Identity{Name: "eui.02004567A425678D"}},
		{name: "last wins", in: "InitiatorName=iqn.a:1\nInitiatorName=iqn.a:2\n", want: Identity{Name: "iqn.a:2"}},
		{name: "empty", in: "# nothing\n", err: "f: no InitiatorName= line"},
		{name: "bad name", in: "\nInitiatorName=host1\n", err: "f:2: iscsi: iSCSI name \"host1\": want iqn."},
		{name: "space in name", in: "InitiatorName=iqn.a:b c\n", err: "spaces and control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ParseInitiatorName("f", []byte(tc.in))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, id)
		})
	}
}

// A generated name has iscsi-iname's form, differs each time, and
// survives a write and a read.
func TestGenerateInitiatorNameRoundTrip(t *testing.T) {
	a, b := GenerateInitiatorName(), GenerateInitiatorName()
	require.Regexp(t, regexp.MustCompile(`^iqn\.2016-04\.com\.open-iscsi:[0-9a-f]{12}$`), a)
	require.NotEqual(t, a, b)
	require.NoError(t, CheckName(a))

	path := filepath.Join(t.TempDir(), "initiatorname.iscsi")
	_, err := ReadInitiatorName(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
	want := Identity{Name: a, Alias: "host one"}
	require.NoError(t, os.WriteFile(path, FormatInitiatorName(want), 0o644))
	got, err := ReadInitiatorName(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
