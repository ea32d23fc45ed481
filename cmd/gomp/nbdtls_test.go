package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"
	"github.com/gomp-dev/gomp/cmd/gomp/internal/node"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/tlstest"
	"github.com/gomp-dev/gomp/nbd"
)

// peer runs an NBD client and returns its stdout, stderr and error.
func peer(t *testing.T, name string, args ...string) (string, string, error) {
	t.Helper()
	needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s hung", name)
	return out.String(), errb.String(), err
}

func tlsCertDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "pki")
	require.NoError(t, tlstest.Write(dir))
	return dir
}

// TestAttachTLSRequire: gomp attach --tls require --tls-verify-peer on TCP
// loopback and a unix socket: nbdinfo and nbdcopy with certificates get
// through, a plain client gets nothing, and no warning says the device is
// open to every local user.
func TestAttachTLSRequire(t *testing.T) {
	needTool(t, "nbdinfo")
	dir := tlsCertDir(t)
	iqn, p1, p2 := memPortals(t)
	ctl, sock, name, logs := startAttachLogged(t, "--target", iqn, "--portal", p1, "--portal", p2, "--lun", "1",
		"--listen", "tcp:127.0.0.1:0", "--tls", "require", "--tls-certificates", dir, "--tls-verify-peer")
	require.NotContains(t, logs.String(), "every local user can read and write")
	require.NotContains(t, logs.String(), "does not authenticate")

	code, out, stderr := runCLI(t, "status", "--json", "--control-dir", ctl, name)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	uri := st[0].Exports.URI
	require.True(t, strings.HasPrefix(uri, "nbds://127.0.0.1:"), uri)

	for _, u := range []string{uri + "?tls-certificates=" + dir,
		"nbds+unix:///" + name + "?socket=" + sock + "&tls-certificates=" + dir} {
		info, stderr, err := peer(t, "nbdinfo", "--size", u)
		require.NoError(t, err, stderr)
		require.Equal(t, "4194304", strings.TrimSpace(info), "8192 blocks of 512 bytes")
	}
	in := filepath.Join(t.TempDir(), "in.img")
	require.NoError(t, os.WriteFile(in, bytes.Repeat([]byte("gomp-tls"), 128<<10), 0o600))
	_, stderr, err := peer(t, "nbdcopy", in, uri+"?tls-certificates="+dir)
	require.NoError(t, err, stderr)
	back := filepath.Join(t.TempDir(), "back.img")
	_, stderr, err = peer(t, "nbdcopy", uri+"?tls-certificates="+dir, back)
	require.NoError(t, err, stderr)
	want, _ := os.ReadFile(in)
	got, _ := os.ReadFile(back)
	require.True(t, bytes.Equal(want, got[:len(want)]))

	plain := "nbd://" + strings.TrimPrefix(uri, "nbds://")
	_, _, err = peer(t, "nbdinfo", plain)
	require.Error(t, err, "a plain client is refused")
}

// TestAttachTLSFlagsValidated: bad TLS flags fail before any login.
func TestAttachTLSFlagsValidated(t *testing.T) {
	empty := t.TempDir()
	noCA := tlsCertDir(t)
	require.NoError(t, os.Remove(filepath.Join(noCA, "ca-cert.pem")))
	base := []string{"attach", "--target", "iqn.x", "--portal", "127.0.0.1", "--listen", "unix:/tmp/x.nbd"}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls", "yes"}, exitUsage, "want off, on or require"},
		{[]string{"--tls", "require"}, exitUsage, "needs --tls-certificates"},
		{[]string{"--tls", "on", "--tls-certificates", empty}, exitFailure, "server-cert.pem"},
		{[]string{"--tls", "require", "--tls-certificates", noCA, "--tls-verify-peer"}, exitFailure, "--tls-verify-peer needs ca-cert.pem"},
	} {
		code, _, stderr := runCLI(t, append(base, tc.args...)...)
		require.Equal(t, tc.code, code, stderr)
		require.Contains(t, stderr, tc.want)
	}
}

// TestTLSFlagsServerConfig: the flags give the nbd.Server's policy and
// config; --tls-verify-peer asks for client certificates from ca-cert.pem.
func TestTLSFlagsServerConfig(t *testing.T) {
	dir := tlsCertDir(t)
	mode, cfg, err := (&tlsFlags{mode: nbd.TLSOff, certDir: dir, verifyPeer: true}).server()
	require.NoError(t, err)
	require.Equal(t, nbd.TLSOff, mode)
	require.Nil(t, cfg)

	mode, cfg, err = (&tlsFlags{mode: nbd.TLSOn, certDir: dir}).server()
	require.NoError(t, err)
	require.Equal(t, nbd.TLSOn, mode)
	require.Len(t, cfg.Certificates, 1)
	require.Equal(t, tls.NoClientCert, cfg.ClientAuth)
	require.EqualValues(t, tls.VersionTLS12, cfg.MinVersion)

	mode, cfg, err = (&tlsFlags{mode: nbd.TLSRequire, certDir: dir, verifyPeer: true}).server()
	require.NoError(t, err)
	require.Equal(t, nbd.TLSRequire, mode)
	require.Equal(t, tls.RequireAndVerifyClientCert, cfg.ClientAuth)
	require.NotNil(t, cfg.ClientCAs)
}

// TestTLSFlagsInNodeRecord: the TLS flags are recorded like other attach
// flags, the certificate directory made absolute.
func TestTLSFlagsInNodeRecord(t *testing.T) {
	state, work := t.TempDir(), t.TempDir()
	t.Chdir(work)
	code, _, stderr := runCLI(t, "node", "add", "tls", "--state-dir", state, "--target", "iqn.x",
		"--portal", "198.18.0.1", "--listen", "tcp:0.0.0.0:10809", "--tls", "require",
		"--tls-certificates", "pki", "--tls-verify-peer")
	require.Equal(t, exitOK, code, stderr)
	rec, err := node.Store{Dir: state}.Load("tls", checkSetting)
	require.NoError(t, err)
	require.Equal(t, "require", rec.Value("tls"))
	require.Equal(t, filepath.Join(work, "pki"), rec.Value("tls-certificates"))
	require.Equal(t, "true", rec.Value("tls-verify-peer"))

	o, err := optsFromRecord(rec, recordFlagSet(&attachOpts{}))
	require.NoError(t, err)
	require.Equal(t, tlsFlags{mode: nbd.TLSRequire, certDir: filepath.Join(work, "pki"), verifyPeer: true}, o.tls)
	require.Error(t, checkSetting("tls", "maybe"), "a record is checked like the flag")
}
