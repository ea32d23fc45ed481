package chap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const plain = "hunter2hunter2"

func TestSecretRedactedInFmt(t *testing.T) {
	s := Secret(plain)
	type conf struct {
		User   string
		Secret Secret
	}
	c := conf{User: "iqn.2004-01.dev.gomp:host", Secret: s}
	for _, verb := range []string{"%v", "%s", "%q", "%#v", "%+v", "%x", "%X", "%d", "%10s", "%-12v"} {
		out := fmt.Sprintf(verb, s)
		require.NotContains(t, out, "hunter", verb)
		require.NotContains(t, out, "68756e74", verb) // hex of "hunt"
		require.Contains(t, out, "[redacted]", verb)

		out = fmt.Sprintf(verb, c)
		require.NotContains(t, out, "hunter", verb)
		require.NotContains(t, out, "68756e74", verb)
	}
	require.Equal(t, "[redacted]", s.String())
	require.Equal(t, "[redacted]", s.GoString())
	require.Equal(t, "[redacted]", fmt.Sprint(s))
	require.Equal(t, "[redacted] [redacted]", fmt.Sprintln(s, &s)[:21])
	// The bytes are still there for the protocol.
	require.Equal(t, []byte(plain), []byte(s))
}

func TestSecretRedactedInSlogAndJSON(t *testing.T) {
	s := Secret(plain)
	var buf bytes.Buffer
	for _, h := range []slog.Handler{
		slog.NewTextHandler(&buf, nil),
		slog.NewJSONHandler(&buf, nil),
	} {
		buf.Reset()
		l := slog.New(h)
		l.Info("login", "secret", s, slog.Any("any", s), slog.Group("g", "s", s))
		l.Info("struct", "conf", struct{ S Secret }{s})
		out := buf.String()
		require.NotContains(t, out, "hunter")
		require.NotContains(t, out, "aHVudGVy") // base64 of "hunter"
		require.Equal(t, 4, strings.Count(out, "[redacted]"), out)
	}
	j, err := json.Marshal(struct{ S Secret }{s})
	require.NoError(t, err)
	require.JSONEq(t, `{"S":"[redacted]"}`, string(j))
}

func TestSecretClearAndWeak(t *testing.T) {
	s := Secret("abcdefghijkl")
	require.False(t, s.Weak())
	require.True(t, s[:11].Weak())
	s.Clear()
	require.Equal(t, make([]byte, 12), []byte(s))
}

func writeSecret(t *testing.T, content string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(content), mode))
	require.NoError(t, os.Chmod(p, mode)) // umask-independent
	return p
}

func TestLoadSecret(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		want    string
		warns   []error
	}{
		{"plain", "secretsecret", 0o600, "secretsecret", nil},
		{"newline", "secretsecret\n", 0o600, "secretsecret", nil},
		{"crlf", "secretsecret\r\n", 0o400, "secretsecret", nil},
		{"only one newline", "secretsecret\n\n", 0o600, "secretsecret\n", nil},
		{"inner space kept", " secret secret \n", 0o600, " secret secret ", nil},
		{"group readable", "secretsecret\n", 0o640, "secretsecret", []error{ErrSecretPermissions}},
		{"world readable", "secretsecret", 0o644, "secretsecret", []error{ErrSecretPermissions}},
		{"group writable", "secretsecret", 0o620, "secretsecret", []error{ErrSecretPermissions}},
		{"short", "tiny5\n", 0o600, "tiny5", []error{ErrWeakSecret}},
		{"short and open", "tiny5", 0o604, "tiny5", []error{ErrSecretPermissions, ErrWeakSecret}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeSecret(t, tc.content, tc.mode)
			s, warn, err := LoadSecret(p)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(s))
			if tc.warns == nil {
				require.NoError(t, warn)
				return
			}
			for _, w := range tc.warns {
				require.ErrorIs(t, warn, w)
			}
			var sw *SecretWarning
			require.ErrorAs(t, warn, &sw)
			require.Contains(t, warn.Error(), p)
			require.NotContains(t, warn.Error(), tc.want)
		})
	}
}

func TestLoadSecretFailures(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadSecret(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	_, _, err = LoadSecret(dir)
	require.Error(t, err, "directory")

	for _, content := range []string{"", "\n", "\r\n"} {
		_, _, err = LoadSecret(writeSecret(t, content, 0o600))
		require.ErrorIs(t, err, ErrEmptySecret, "%q", content)
	}

	big := writeSecret(t, strings.Repeat("x", maxSecretFile+1), 0o600)
	_, _, err = LoadSecret(big)
	require.Error(t, err)
	s, _, err := LoadSecret(writeSecret(t, strings.Repeat("x", maxSecretFile), 0o600))
	require.NoError(t, err)
	require.Len(t, s, maxSecretFile)
}

func TestSecretFromEnv(t *testing.T) {
	t.Setenv("GOMP_TEST_CHAP_SECRET", "secretsecret\n")
	s, err := SecretFromEnv("GOMP_TEST_CHAP_SECRET")
	require.NoError(t, err)
	require.Equal(t, "secretsecret\n", string(s), "taken as is")

	t.Setenv("GOMP_TEST_CHAP_EMPTY", "")
	_, err = SecretFromEnv("GOMP_TEST_CHAP_EMPTY")
	require.ErrorIs(t, err, ErrEmptySecret)

	_, err = SecretFromEnv("GOMP_TEST_CHAP_UNSET_4f1c")
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrEmptySecret))
}

// TestLoadSecretEnvWarnsWeak: a short secret from the environment gets the
// same warning as a short secret file, naming the variable.
func TestLoadSecretEnvWarnsWeak(t *testing.T) {
	t.Setenv("GOMP_TEST_SECRET", "tiny")
	s, warn, err := LoadSecretEnv("GOMP_TEST_SECRET")
	require.NoError(t, err)
	require.Equal(t, "tiny", string(s))
	require.ErrorIs(t, warn, ErrWeakSecret)
	require.ErrorContains(t, warn, "$GOMP_TEST_SECRET")
	t.Setenv("GOMP_TEST_SECRET", "long-enough-secret")
	_, warn, err = LoadSecretEnv("GOMP_TEST_SECRET")
	require.NoError(t, err)
	require.NoError(t, warn)
	t.Setenv("GOMP_TEST_SECRET", "")
	_, _, err = LoadSecretEnv("GOMP_TEST_SECRET")
	require.ErrorIs(t, err, ErrEmptySecret)
}
