package nbd

// Interoperability with real NBD clients, the peers of the test lab:
// libnbd's nbdinfo, nbdcopy and Python bindings, qemu-img, and fio's nbd
// engine, each
// against a server in this test process on a unix socket. Tests skip when a
// binary is missing; CI installs them all (.ci/run).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
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

// uri is the NBD URI of export name on the unix socket path.
func uri(path, name string) string { return "nbd+unix:///" + name + "?socket=" + path }

// run runs a peer binary with a timeout and returns its stdout; a missing
// binary is needPeer's case.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	needPeer(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = t.TempDir() // fio and friends may leave state files behind
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s %s\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.Bytes()
}

func interopServer(t *testing.T, size int64) (*MemoryBackend, string) {
	m := NewMemory(size)
	srv := &Server{
		Backend: m, Description: "gomp test",
		Exports: []Export{{Name: "ro", Description: "read-only", Backend: roBackend{NewMemory(1 << 20)}},
			{Name: "plain", Backend: plainBackend{NewMemory(1 << 20)}}},
	}
	return m, startServer(t, srv)
}

type nbdinfoExport struct {
	Name        string `json:"export-name"`
	Description string `json:"description"`
	Size        int64  `json:"export-size"`
	ReadOnly    bool   `json:"is_read_only"`
	CanFlush    bool   `json:"can_flush"`
	CanFUA      bool   `json:"can_fua"`
	CanTrim     bool   `json:"can_trim"`
	CanZero     bool   `json:"can_zero"`
	CanMulti    bool   `json:"can_multi_conn"`
	CanDF       bool   `json:"can_df"`
	MinBlock    uint32 `json:"block_size_minimum"`
	PrefBlock   uint32 `json:"block_size_preferred"`
	MaxBlock    uint32 `json:"block_size_maximum"`
}

type nbdinfoOutput struct {
	Protocol   string          `json:"protocol"`
	Structured bool            `json:"structured"`
	Exports    []nbdinfoExport `json:"exports"`
}

func nbdinfo(t *testing.T, args ...string) nbdinfoOutput {
	var out nbdinfoOutput
	require.NoError(t, json.Unmarshal(run(t, "nbdinfo", append([]string{"--json"}, args...)...), &out))
	return out
}

func TestNbdinfo(t *testing.T) {
	_, path := interopServer(t, 64<<20)
	out := nbdinfo(t, uri(path, ""))
	require.Equal(t, "newstyle-fixed", out.Protocol)
	require.True(t, out.Structured)
	require.Equal(t, []nbdinfoExport{{
		Description: "gomp test", Size: 64 << 20, CanFlush: true, CanFUA: true, CanTrim: true,
		CanZero: true, CanMulti: true, CanDF: true, MinBlock: 1, PrefBlock: 4096, MaxBlock: 32 << 20,
	}}, out.Exports)

	ro := nbdinfo(t, uri(path, "ro")).Exports[0]
	require.True(t, ro.ReadOnly)
	require.True(t, ro.CanFlush)
	require.False(t, ro.CanFUA || ro.CanTrim || ro.CanZero)

	plain := nbdinfo(t, uri(path, "plain")).Exports[0]
	require.False(t, plain.CanFlush || plain.CanFUA || plain.CanTrim || plain.CanZero || plain.CanMulti || plain.ReadOnly)
}

func TestNbdinfoList(t *testing.T) {
	_, path := interopServer(t, 1<<20)
	out := nbdinfo(t, "--list", uri(path, ""))
	var names []string
	for _, e := range out.Exports {
		names = append(names, e.Name+"="+e.Description)
	}
	require.Equal(t, []string{"=gomp test", "ro=read-only", "plain="}, names)
}

func randomFile(t *testing.T, size int) (string, [32]byte) {
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "in.img")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path, sha256.Sum256(data)
}

func fileSum(t *testing.T, path string) [32]byte {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

func TestNbdcopy(t *testing.T) {
	const size = 24 << 20
	m, path := interopServer(t, size)
	in, sum := randomFile(t, size)
	run(t, "nbdcopy", in, uri(path, ""))
	require.EqualValues(t, size, m.Allocated())
	out := filepath.Join(t.TempDir(), "out.img")
	run(t, "nbdcopy", uri(path, ""), out)
	require.Equal(t, sum, fileSum(t, out))
	// Copy zeroes back (nbdcopy zeroes or trims), then read again.
	zero := filepath.Join(t.TempDir(), "zero.img")
	require.NoError(t, os.WriteFile(zero, make([]byte, size), 0o600))
	run(t, "nbdcopy", zero, uri(path, ""))
	run(t, "nbdcopy", uri(path, ""), out)
	require.Equal(t, sha256.Sum256(make([]byte, size)), fileSum(t, out))
}

func TestQemuImg(t *testing.T) {
	const size = 16 << 20
	_, path := interopServer(t, size)
	var info struct {
		VirtualSize int64  `json:"virtual-size"`
		Format      string `json:"format"`
	}
	require.NoError(t, json.Unmarshal(run(t, "qemu-img", "info", "--output=json", uri(path, "")), &info))
	require.EqualValues(t, size, info.VirtualSize)
	require.Equal(t, "raw", info.Format)

	in, _ := randomFile(t, size)
	run(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", in, uri(path, ""))
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", in, uri(path, ""))
	out := filepath.Join(t.TempDir(), "out.img")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri(path, ""), out)
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", in, out)
}

func TestFioVerify(t *testing.T) {
	_, path := interopServer(t, 64<<20)
	out := run(t, "fio", "--name=verify", "--ioengine=nbd", "--uri="+uri(path, ""),
		"--rw=randrw", "--bs=4k", "--iodepth=32", "--verify=crc32c", "--verify_fatal=1", "--verify_state_save=0",
		"--size=32M", "--output-format=json")
	var res struct {
		Jobs []struct {
			Error int `json:"error"`
		} `json:"jobs"`
	}
	require.NoError(t, json.Unmarshal(out[bytes.IndexByte(out, '{'):], &res))
	require.Len(t, res.Jobs, 1)
	require.Zero(t, res.Jobs[0].Error)
}

// TestLibnbdEdgeCases scripts libnbd (python3-libnbd) against the server:
// multi-conn writes visible across connections after flush, many requests in
// flight, and out-of-range requests answered with errors while the
// connection stays up.
func TestLibnbdEdgeCases(t *testing.T) {
	// Debian's python3-libnbd is installed for the system interpreter.
	python := "/usr/bin/python3"
	if exec.Command(python, "-c", "import nbd; nbd.NBD").Run() != nil {
		t.Skip("python3-libnbd not installed")
	}
	_, path := interopServer(t, 8<<20)
	script := filepath.Join(t.TempDir(), "edge.py")
	require.NoError(t, os.WriteFile(script, []byte(libnbdScript), 0o600))
	out := run(t, python, script, uri(path, ""))
	require.Contains(t, string(out), "ok")
}

const libnbdScript = `
import sys, nbd, errno
uri = sys.argv[1]

hs = []
for i in range(4):
    h = nbd.NBD()
    h.connect_uri(uri)
    hs.append(h)
assert hs[0].can_multi_conn()

# multi-conn: a write on one connection, flushed, is seen by the others.
hs[1].pwrite(b"x" * 4096, 8192, nbd.CMD_FLAG_FUA)
hs[1].flush()
for h in hs:
    assert h.pread(4096, 8192) == b"x" * 4096

# many requests in flight on one connection, completed out of order.
h = hs[0]
bufs = [nbd.Buffer(65536) for _ in range(64)]
for i, b in enumerate(bufs):
    h.aio_pread(b, i * 65536)
while h.aio_in_flight() > 0:
    h.poll(-1)

# requests the server must refuse, each with an error, connection kept.
h.set_strict_mode(0)
def expect(fn, code):
    try:
        fn()
    except nbd.Error as e:
        assert e.errno in (code, errno.errorcode[code]), (e.errno, code)
        return
    raise AssertionError("no error")
size = h.get_size()
expect(lambda: h.pread(512, size), errno.EINVAL)
expect(lambda: h.pwrite(b"y" * 512, size - 256), errno.ENOSPC)
expect(lambda: h.trim(4096, size), errno.EINVAL)
expect(lambda: h.zero(4096, size), errno.ENOSPC)
assert h.pread(4096, 8192) == b"x" * 4096

# zeroing with and without NO_HOLE, trim, fast zero not offered.
h.zero(4096, 8192)
h.zero(4096, 8192, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(4096, 8192) == bytes(4096)
h.trim(65536, 0)
assert not h.can_fast_zero()

for h in hs:
    h.shutdown()
print("ok")
`

// TestNbdinfoTCP serves on TCP loopback, as gomp attach --listen tcp: does.
func TestNbdinfoTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &Server{Backend: NewMemory(4 << 20)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-errc, ErrServerClosed)
	})
	out := nbdinfo(t, "nbd://"+ln.Addr().String())
	require.EqualValues(t, 4<<20, out.Exports[0].Size)
	in, sum := randomFile(t, 4<<20)
	run(t, "nbdcopy", in, "nbd://"+ln.Addr().String())
	outFile := filepath.Join(t.TempDir(), "out.img")
	run(t, "nbdcopy", "nbd://"+ln.Addr().String(), outFile)
	require.Equal(t, sum, fileSum(t, outFile))
}
