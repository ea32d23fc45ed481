package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi"
)

// captureStderr runs fn with os.Stderr (where the CLI's logs and secret
// file warnings go) redirected, and returns what was written there.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stderr
	os.Stderr = w
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	defer func() {
		os.Stderr = saved
	}()
	fn()
	os.Stderr = saved
	require.NoError(t, w.Close())
	return <-got
}

// secretForms returns the ways a secret could show up in text.
func secretForms(secret string) []string {
	h := hex.EncodeToString([]byte(secret))
	return []string{secret, h, strings.ToUpper(h), "0x" + h,
		base64.StdEncoding.EncodeToString([]byte(secret)), fmt.Sprint([]byte(secret))}
}

// The CLI's CHAP paths — good and wrong secrets, mutual CHAP, secrets
// from the environment, world-readable and weak secret files, empty
// files, missing files — run with -v against an in-process target: no
// secret appears on stdout, stderr or the logs in any form.
func TestCLISecretsNeverPrinted(t *testing.T) {
	const (
		user, secret             = "alice", "alice-secret-0123"
		targetUser, targetSecret = "the-target", "target-secret-4567"
		wrong, weak              = "wrong-secret-89ab", "tiny"
		name                     = "iqn.2026-11.dev.gomp:cli-secrets"
	)
	tg := iscsitest.New(iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(2048, 512)},
		CHAP: &iscsitest.CHAPConfig{User: user, Secret: secret, MutualUser: targetUser, MutualSecret: targetSecret}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = tg.Listen(ln) }()
	t.Cleanup(func() { _ = tg.Close() })
	portal := ln.Addr().String()

	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content+"\n"), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	good, bad := file("good", secret, 0o600), file("bad", wrong, 0o600)
	open := file("open", secret, 0o644)
	short := file("short", weak, 0o600)
	empty := file("empty", "", 0o600)
	mutualGood, mutualBad := file("mutual", targetSecret, 0o600), file("mutual-bad", wrong, 0o600)
	ls := func(extra ...string) []string {
		return append([]string{"-v", "ls", "--target", name, "--portal", portal}, extra...)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
	}{
		{name: "discover", args: []string{"-v", "discover", "--chap-user", user, "--chap-secret-file", good, portal}, code: exitOK},
		{name: "discover, wrong secret", args: []string{"-v", "discover", "--chap-user", user, "--chap-secret-file", bad, portal}, code: exitFailure},
		{name: "ls", args: ls("--chap-user", user, "--chap-secret-file", good), code: exitOK},
		{name: "ls, mutual", args: ls("--chap-user", user, "--chap-secret-file", good,
			"--mutual-user", targetUser, "--mutual-secret-file", mutualGood), code: exitOK},
		{name: "ls, wrong secret", args: ls("--chap-user", user, "--chap-secret-file", bad), code: exitFailure},
		{name: "ls, mutual, wrong target secret", args: ls("--chap-user", user, "--chap-secret-file", good,
			"--mutual-user", targetUser, "--mutual-secret-file", mutualBad), code: exitFailure},
		{name: "ls, secrets from the environment", args: ls("--chap-user", user, "--mutual-user", targetUser),
			env: map[string]string{envCHAPSecret: secret, envMutualSecret: targetSecret}, code: exitOK},
		{name: "ls, wrong secret from the environment", args: ls("--chap-user", user),
			env: map[string]string{envCHAPSecret: wrong}, code: exitFailure},
		{name: "ls, world-readable secret file", args: ls("--chap-user", user, "--chap-secret-file", open), code: exitOK},
		{name: "ls, weak secret", args: ls("--chap-user", user, "--chap-secret-file", short), code: exitFailure},
		{name: "ls, empty secret file", args: ls("--chap-user", user, "--chap-secret-file", empty), code: exitFailure},
		{name: "ls, missing secret file", args: ls("--chap-user", user, "--chap-secret-file", filepath.Join(dir, "none")), code: exitFailure},
		{name: "ls, secret file is a directory", args: ls("--chap-user", user, "--chap-secret-file", dir), code: exitFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envCHAPSecret, "")
			t.Setenv(envMutualSecret, "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var code int
			var stdout, stderr string
			logs := captureStderr(t, func() { code, stdout, stderr = runCLI(t, tc.args...) })
			all := stdout + stderr + logs
			t.Logf("exit %d\n%s", code, all)
			require.Equal(t, tc.code, code, all)
			for _, s := range []string{secret, targetSecret, wrong, weak} {
				for _, form := range secretForms(s) {
					require.NotContains(t, all, form, "a secret leaked (as %q)", form)
				}
			}
		})
	}
}

// TestEnvSecretWeakWarning: a short secret from $GOMP_CHAP_SECRET gets the
// weak-secret warning a short secret file gets, naming the variable.
func TestEnvSecretWeakWarning(t *testing.T) {
	t.Setenv(envCHAPSecret, "tiny")
	t.Setenv(envMutualSecret, "")
	f := chapFlags{user: "alice"}
	var c *iscsi.CHAP
	var err error
	stderr := captureStderr(t, func() { c, err = f.credentials() })
	require.NoError(t, err)
	defer clearCHAP(c)
	require.Contains(t, stderr, "$"+envCHAPSecret)
	require.Contains(t, stderr, "shorter than")
	require.NotContains(t, stderr, "tiny")
}

// TestSecretsHeldUndumpableAndCleared: while credentials are held the
// process is not dumpable (no core dump or same-user ptrace reads the
// secret); clearCHAP zeroes the secret bytes and makes it dumpable again.
func TestSecretsHeldUndumpableAndCleared(t *testing.T) {
	t.Setenv(envCHAPSecret, "")
	t.Setenv(envMutualSecret, "")
	dir := t.TempDir()
	p := filepath.Join(dir, "s")
	require.NoError(t, os.WriteFile(p, []byte("alice-secret-0123\n"), 0o600))
	m := filepath.Join(dir, "m")
	require.NoError(t, os.WriteFile(m, []byte("target-secret-4567\n"), 0o600))
	require.True(t, dumpable(), "dumpable before any secret")
	f := chapFlags{user: "alice", secretFile: p, mutualUser: "tgt", mutualSecretFile: m}
	c, err := f.credentials()
	require.NoError(t, err)
	require.False(t, dumpable(), "not dumpable while a secret is held")
	s, ts := c.Secret, c.TargetSecret
	clearCHAP(c)
	require.Equal(t, make([]byte, len(s)), []byte(s), "secret bytes zeroed")
	require.Equal(t, make([]byte, len(ts)), []byte(ts), "target secret bytes zeroed")
	require.Nil(t, c.Secret)
	require.True(t, dumpable(), "dumpable again once cleared")
	clearCHAP(c) // twice is harmless
	require.True(t, dumpable())
}
