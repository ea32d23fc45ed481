package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/nbd"
	"github.com/stretchr/testify/require"
)

// lab returns the lab's portals and target; it skips the test unless
// GOMP_LAB=1 says the tgtd lab of scripts/lab.sh is up.
func lab(t *testing.T) (portal1, portal2, target string) {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: `make lab-up`, then `set -a; . /run/gomp-lab/env; GOMP_LAB=1 go test ./examples/...`")
	}
	portal1, portal2, target = os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	if portal1 == "" || portal2 == "" || target == "" {
		t.Fatal("lab env GOMP_LAB_PORTAL1, GOMP_LAB_PORTAL2 or GOMP_LAB_TARGET is not set")
	}
	return portal1, portal2, target
}

// labOffset is read (never written) by this test; it lies in the region
// the examples own, [600 MiB, 601 MiB) of the shared LUN.
const labOffset = 600 << 20

func TestRunServesLabLUN(t *testing.T) {
	portal1, portal2, target := lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-target", target, "-portals", portal1 + "," + portal2, "-socket", sock}, outW)
		outW.Close()
	}()

	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err, "run printed nothing")
	require.Regexp(t, `^serving \S+ \([1-9]\d* bytes\) at nbd\+unix:///\?socket=`+regexp.QuoteMeta(sock)+"\n$", line)
	go io.Copy(io.Discard, outR) // run prints nothing more, but must not block if it did

	conn, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	size := handshake(t, conn)
	require.Greater(t, size, uint64(labOffset))
	read(t, conn, labOffset, 4096)
	disconnect(t, conn)

	cancel()
	require.NoError(t, <-done)
	_, err = os.Stat(sock)
	require.ErrorIs(t, err, os.ErrNotExist, "the socket is removed")
}

// handshake negotiates the default export with NBD_OPT_EXPORT_NAME
// (proto.md "Fixed newstyle negotiation") and returns its size.
func handshake(t *testing.T, conn net.Conn) uint64 {
	t.Helper()
	var greeting [18]byte // NBDMAGIC, IHAVEOPT, handshake flags
	_, err := io.ReadFull(conn, greeting[:])
	require.NoError(t, err)
	require.Equal(t, nbd.MagicInitPasswd, binary.BigEndian.Uint64(greeting[0:]))
	require.Equal(t, nbd.MagicOption, binary.BigEndian.Uint64(greeting[8:]))
	flags := nbd.HandshakeFlags(binary.BigEndian.Uint16(greeting[16:]))
	require.Equal(t, nbd.HandshakeFixedNewstyle|nbd.HandshakeNoZeroes, flags&(nbd.HandshakeFixedNewstyle|nbd.HandshakeNoZeroes))

	msg := binary.BigEndian.AppendUint32(nil, uint32(nbd.ClientFixedNewstyle|nbd.ClientNoZeroes))
	msg = binary.BigEndian.AppendUint64(msg, nbd.MagicOption)
	msg = binary.BigEndian.AppendUint32(msg, uint32(nbd.OptExportName))
	msg = binary.BigEndian.AppendUint32(msg, 0) // name "": the default export
	_, err = conn.Write(msg)
	require.NoError(t, err)

	var export [10]byte // size, transmission flags; no zeroes
	_, err = io.ReadFull(conn, export[:])
	require.NoError(t, err)
	return binary.BigEndian.Uint64(export[0:])
}

// read sends one NBD_CMD_READ and checks its simple reply.
func read(t *testing.T, conn net.Conn, off uint64, n uint32) {
	t.Helper()
	req, err := nbd.Request{Type: nbd.CmdRead, Cookie: 7, Offset: off, Length: n}.AppendBinary(nil)
	require.NoError(t, err)
	_, err = conn.Write(req)
	require.NoError(t, err)
	hdr := make([]byte, nbd.SimpleReplyLen)
	_, err = io.ReadFull(conn, hdr)
	require.NoError(t, err)
	reply, err := nbd.ParseSimpleReply(hdr)
	require.NoError(t, err)
	require.Zero(t, reply.Errno, "read failed with %s", reply.Errno)
	require.EqualValues(t, 7, reply.Cookie)
	_, err = io.ReadFull(conn, make([]byte, n))
	require.NoError(t, err)
}

// disconnect sends NBD_CMD_DISC and waits for the server to close.
func disconnect(t *testing.T, conn net.Conn) {
	t.Helper()
	req, err := nbd.Request{Type: nbd.CmdDisc, Cookie: 8}.AppendBinary(nil)
	require.NoError(t, err)
	_, err = conn.Write(req)
	require.NoError(t, err)
	_, err = conn.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}
