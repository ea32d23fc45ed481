package nbd

// TLS against real NBD clients: libnbd's nbdinfo and nbdcopy (GnuTLS) and
// qemu-img (qemu's tls-creds-x509), on TCP loopback and a unix socket.
// A missing peer skips the test, and fails it under CI=true.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// needPeer skips the test when a peer binary is missing, or fails it
// under CI, where every peer is installed.
func needPeer(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed (CI=true: every peer must be)", name)
	}
	t.Skipf("%s not installed", name)
}

// runFail runs a peer that must fail and returns its stderr.
func runFail(t *testing.T, name string, args ...string) string {
	t.Helper()
	needPeer(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.Error(t, err, "%s %s succeeded: %s", name, strings.Join(args, " "), out)
	require.NoError(t, ctx.Err(), "%s hung", name)
	return stderr.String()
}

// startTCP serves srv on 127.0.0.1:0 until the test ends; it returns the
// address.
func startTCP(t *testing.T, srv *Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-errc, ErrServerClosed)
	})
	return ln.Addr().String()
}

// tlsMemServer serves a memory disk named "disk" with the given policy.
func tlsMemServer(t *testing.T, mode TLSMode, dir string, verifyPeer bool, size int64) *Server {
	srv := tlsServer(t, mode, dir, verifyPeer)
	srv.Backend, srv.Exports = NewMemory(size), nil
	return srv
}

// copyRoundTrip writes a random file to uri with nbdcopy, reads it back
// and compares.
func copyRoundTrip(t *testing.T, uri string, size int) {
	in, sum := randomFile(t, size)
	run(t, "nbdcopy", in, uri)
	out := filepath.Join(t.TempDir(), "out.img")
	run(t, "nbdcopy", uri, out)
	require.Equal(t, sum, fileSum(t, out))
}

// TestTLSNbdinfoTCP: nbdinfo and nbdcopy with nbds:// (libnbd verifies the
// server's certificate for 127.0.0.1 and presents client-cert.pem, which
// the server checks); a plain nbd:// client fails cleanly.
func TestTLSNbdinfoTCP(t *testing.T) {
	needPeer(t, "nbdinfo")
	dir := certDir(t)
	addr := startTCP(t, tlsMemServer(t, TLSRequire, dir, true, 8<<20))
	uri := "nbds://" + addr + "/disk?tls-certificates=" + dir
	out := nbdinfo(t, uri)
	require.Equal(t, "newstyle-fixed", out.Protocol)
	require.EqualValues(t, 8<<20, out.Exports[0].Size)
	require.True(t, out.Structured, "structured replies negotiated inside TLS")
	copyRoundTrip(t, uri, 8<<20)

	runFail(t, "nbdinfo", "nbd://"+addr+"/disk") // NBD_REP_ERR_TLS_REQD to its NBD_OPT_GO
	list := runFail(t, "nbdinfo", "--list", "nbd://"+addr)
	require.NotContains(t, list, "disk", "no export is listed in plain text")
}

// TestTLSNbdinfoUnix: TLS over a unix socket (nbds+unix://), and plain
// nbd+unix:// refused under require.
func TestTLSNbdinfoUnix(t *testing.T) {
	needPeer(t, "nbdinfo")
	dir := certDir(t)
	path := startServer(t, tlsMemServer(t, TLSRequire, dir, false, 4<<20))
	uri := "nbds+unix:///disk?socket=" + path + "&tls-certificates=" + dir
	require.EqualValues(t, 4<<20, nbdinfo(t, uri).Exports[0].Size)
	copyRoundTrip(t, uri, 4<<20)
	runFail(t, "nbdinfo", "nbd+unix:///disk?socket="+path)
}

// TestTLSOnBothClients: with TLS on, plain and TLS clients are served.
func TestTLSOnBothClients(t *testing.T) {
	needPeer(t, "nbdinfo")
	dir := certDir(t)
	addr := startTCP(t, tlsMemServer(t, TLSOn, dir, false, 2<<20))
	require.EqualValues(t, 2<<20, nbdinfo(t, "nbd://"+addr+"/disk").Exports[0].Size)
	require.EqualValues(t, 2<<20, nbdinfo(t, "nbds://"+addr+"/disk?tls-certificates="+dir).Exports[0].Size)
}

// TestTLSNbdinfoWrongCA: libnbd refuses a server whose certificate another
// CA signed, and the server refuses libnbd's client certificate from
// another CA.
func TestTLSNbdinfoWrongCA(t *testing.T) {
	needPeer(t, "nbdinfo")
	dir, other := certDir(t), certDir(t)
	addr := startTCP(t, tlsMemServer(t, TLSRequire, dir, true, 1<<20))
	require.Contains(t, runFail(t, "nbdinfo", "nbds://"+addr+"/disk?tls-certificates="+other), "certificate verification")

	mixed := filepath.Join(t.TempDir(), "mixed") // trusts the server, foreign client cert
	require.NoError(t, os.MkdirAll(mixed, 0o700))
	for src, name := range map[string]string{dir: "ca-cert.pem", other: "client-cert.pem"} {
		copyFile(t, filepath.Join(src, name), filepath.Join(mixed, name))
	}
	copyFile(t, filepath.Join(other, "client-key.pem"), filepath.Join(mixed, "client-key.pem"))
	// The server refuses the client's certificate once the handshake is
	// done (TLS 1.3): gnutls reports the alert, or, when the close beats
	// the alert to its next read, a connection "non-properly terminated".
	require.Regexp(t, `alert|non-properly terminated`, runFail(t, "nbdinfo", "nbds://"+addr+"/disk?tls-certificates="+mixed))
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// TestTLSQemuImg: qemu-img info, convert in and out, and compare through
// tls-creds-x509 (qemu checks the server's certificate for 127.0.0.1 and
// presents client-cert.pem).
func TestTLSQemuImg(t *testing.T) {
	needPeer(t, "qemu-img")
	const size = 8 << 20
	dir := certDir(t)
	addr := startTCP(t, tlsMemServer(t, TLSRequire, dir, true, size))
	host, port, _ := net.SplitHostPort(addr)
	creds := "tls-creds-x509,id=tls0,dir=" + dir + ",endpoint=client"
	img := "driver=nbd,server.type=inet,server.host=" + host + ",server.port=" + port + ",tls-creds=tls0,export=disk"

	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	out := run(t, "qemu-img", "info", "--output=json", "--object", creds, "--image-opts", img)
	require.NoError(t, json.Unmarshal(out, &info))
	require.EqualValues(t, size, info.VirtualSize)

	in, sum := randomFile(t, size)
	run(t, "qemu-img", "convert", "-n", "--object", creds, "-f", "raw", in, "--target-image-opts", img)
	back := filepath.Join(t.TempDir(), "back.img")
	run(t, "qemu-img", "convert", "--object", creds, "--image-opts", img, "-O", "raw", back)
	require.Equal(t, sum, fileSum(t, back))

	plain := "driver=nbd,server.type=inet,server.host=" + host + ",server.port=" + port + ",export=disk"
	require.Contains(t, runFail(t, "qemu-img", "info", "--image-opts", plain), "TLS is required")
}
