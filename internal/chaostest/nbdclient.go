package chaostest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gomp-dev/gomp/nbd"
)

// Client is a minimal NBD client over one connection: fixed-newstyle
// handshake with NBD_OPT_GO, simple replies, and any number of requests in
// flight from any goroutines (replies are matched by cookie).
type Client struct {
	conn  net.Conn
	size  uint64
	flags nbd.TransmissionFlags

	wmu sync.Mutex // serializes request writes

	mu      sync.Mutex // guards the following
	pending map[uint64]*call
	cookie  uint64
	err     error // set once the reader has stopped
}

// call is one request waiting for its reply. For a read, buf receives the
// data; the reader fills it before closing done.
type call struct {
	buf   []byte
	read  bool
	errno nbd.Errno
	done  chan struct{}
}

// Dial connects to the NBD unix socket at path and enters transmission
// for export.
func Dial(ctx context.Context, path, export string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c := &Client{conn: conn, pending: map[uint64]*call{}}
	if c.size, c.flags, err = handshake(conn, export); err != nil {
		conn.Close()
		return nil, fmt.Errorf("nbd handshake with %s: %w", path, err)
	}
	conn.SetDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// Size is the export's size; Flags its transmission flags.
func (c *Client) Size() uint64                 { return c.size }
func (c *Client) Flags() nbd.TransmissionFlags { return c.flags }

// handshake runs the client side of fixed-newstyle negotiation.
func handshake(rw io.ReadWriter, export string) (uint64, nbd.TransmissionFlags, error) {
	var greet [18]byte
	if _, err := io.ReadFull(rw, greet[:]); err != nil {
		return 0, 0, err
	}
	if binary.BigEndian.Uint64(greet[0:]) != nbd.MagicInitPasswd || binary.BigEndian.Uint64(greet[8:]) != nbd.MagicOption {
		return 0, 0, errors.New("not a newstyle NBD server")
	}
	hf := nbd.HandshakeFlags(binary.BigEndian.Uint16(greet[16:]))
	if hf&nbd.HandshakeFixedNewstyle == 0 {
		return 0, 0, errors.New("server is not fixed-newstyle")
	}
	cf := nbd.ClientFixedNewstyle
	if hf&nbd.HandshakeNoZeroes != 0 {
		cf |= nbd.ClientNoZeroes
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(cf))
	b = binary.BigEndian.AppendUint64(b, nbd.MagicOption)
	b = binary.BigEndian.AppendUint32(b, uint32(nbd.OptGo))
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(export)+2))
	b = binary.BigEndian.AppendUint32(b, uint32(len(export)))
	b = append(b, export...)
	b = binary.BigEndian.AppendUint16(b, 0) // no information requests
	if _, err := rw.Write(b); err != nil {
		return 0, 0, err
	}
	return readGoReplies(rw)
}

// readGoReplies reads NBD_OPT_GO's replies up to the final ACK.
func readGoReplies(r io.Reader) (size uint64, flags nbd.TransmissionFlags, err error) {
	var hdr [20]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, 0, err
		}
		if binary.BigEndian.Uint64(hdr[0:]) != nbd.MagicOptionReply {
			return 0, 0, errors.New("bad option reply magic")
		}
		typ := nbd.OptionReply(binary.BigEndian.Uint32(hdr[12:]))
		n := binary.BigEndian.Uint32(hdr[16:])
		if n > 64<<10 {
			return 0, 0, fmt.Errorf("option reply of %d bytes", n)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return 0, 0, err
		}
		switch {
		case typ.IsError():
			return 0, 0, fmt.Errorf("NBD_OPT_GO: %s %q", typ, data)
		case typ == nbd.RepInfo && len(data) >= 12 && nbd.InfoType(binary.BigEndian.Uint16(data)) == nbd.InfoExport:
			size = binary.BigEndian.Uint64(data[2:])
			flags = nbd.TransmissionFlags(binary.BigEndian.Uint16(data[10:]))
		case typ == nbd.RepAck:
			if size == 0 {
				return 0, 0, errors.New("no NBD_INFO_EXPORT before ACK")
			}
			return size, flags, nil
		}
	}
}

// readLoop reads replies and completes their calls until the connection
// fails or closes; then every pending call fails.
func (c *Client) readLoop() {
	var hdr [nbd.SimpleReplyLen]byte
	var err error
	for {
		if _, err = io.ReadFull(c.conn, hdr[:]); err != nil {
			break
		}
		var rep nbd.SimpleReply
		if rep, err = nbd.ParseSimpleReply(hdr[:]); err != nil {
			break
		}
		c.mu.Lock()
		cl := c.pending[rep.Cookie]
		delete(c.pending, rep.Cookie)
		c.mu.Unlock()
		if cl == nil {
			err = fmt.Errorf("reply to unknown cookie %d", rep.Cookie)
			break
		}
		cl.errno = rep.Errno
		if cl.read && rep.Errno == 0 {
			if _, err = io.ReadFull(c.conn, cl.buf); err != nil {
				cl.errno = nbd.ErrnoIO
				close(cl.done)
				break
			}
		}
		close(cl.done)
	}
	c.fail(err)
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = fmt.Errorf("nbd connection lost: %w", err)
	}
	for k, cl := range c.pending {
		cl.errno = nbd.ErrnoShutdown
		close(cl.done)
		delete(c.pending, k)
	}
	c.conn.Close()
}

// do sends one request and waits for its reply. When ctx ends first the
// connection is closed (the reply could still land in buf otherwise), so
// that every later request fails too.
func (c *Client) do(ctx context.Context, cmd nbd.Command, fl nbd.CommandFlags, off uint64, buf []byte) error {
	return c.doN(ctx, cmd, fl, off, uint32(len(buf)), buf)
}

// doN is do for a request of length n, which may have no payload (buf
// nil: TRIM, WRITE_ZEROES).
func (c *Client) doN(ctx context.Context, cmd nbd.Command, fl nbd.CommandFlags, off uint64, n uint32, buf []byte) error {
	cl := &call{buf: buf, read: cmd == nbd.CmdRead, done: make(chan struct{})}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.cookie++
	cookie := c.cookie
	c.pending[cookie] = cl
	c.mu.Unlock()
	hdr, _ := nbd.Request{Flags: fl, Type: cmd, Cookie: cookie, Offset: off, Length: n}.AppendBinary(make([]byte, 0, nbd.RequestLen))
	bufs := net.Buffers{hdr}
	if cmd == nbd.CmdWrite {
		bufs = append(bufs, buf)
	}
	c.wmu.Lock()
	_, err := bufs.WriteTo(c.conn)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		c.fail(ctx.Err())
		<-cl.done
		return fmt.Errorf("nbd %s at %d+%d: no reply: %w", cmd, off, n, ctx.Err())
	}
	if cl.errno != 0 {
		return fmt.Errorf("nbd %s at %d+%d: %w", cmd, off, n, &nbd.Error{Errno: cl.errno})
	}
	return nil
}

// ReadAt reads len(p) bytes at off.
func (c *Client) ReadAt(ctx context.Context, p []byte, off int64) error {
	return c.do(ctx, nbd.CmdRead, 0, uint64(off), p)
}

// WriteAt writes p at off, with FUA when fua is set.
func (c *Client) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	var fl nbd.CommandFlags
	if fua {
		fl = nbd.CmdFlagFUA
	}
	return c.do(ctx, nbd.CmdWrite, fl, uint64(off), p)
}

// WriteZeroes sends NBD_CMD_WRITE_ZEROES for [off, off+n), with
// NBD_CMD_FLAG_NO_HOLE when noHole is set (the range must stay allocated).
func (c *Client) WriteZeroes(ctx context.Context, off int64, n uint32, noHole bool) error {
	var fl nbd.CommandFlags
	if noHole {
		fl = nbd.CmdFlagNoHole
	}
	return c.doN(ctx, nbd.CmdWriteZeroes, fl, uint64(off), n, nil)
}

// Flush sends NBD_CMD_FLUSH.
func (c *Client) Flush(ctx context.Context) error { return c.do(ctx, nbd.CmdFlush, 0, 0, nil) }

// Close sends NBD_CMD_DISC (the server answers nothing) and closes the
// connection once the server has closed its side.
func (c *Client) Close() error {
	hdr, _ := nbd.Request{Type: nbd.CmdDisc}.AppendBinary(nil)
	c.wmu.Lock()
	_, err := c.conn.Write(hdr)
	c.wmu.Unlock()
	c.fail(errors.New("closed"))
	return err
}
