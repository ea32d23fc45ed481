package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/gomp-dev/gomp/nbd"
)

// The "nbd" generic-netlink family (<linux/nbd-netlink.h>, kernel ≥ 4.12).
const (
	genlFamilyName         = "nbd"
	genlVersion      uint8 = 1
	defaultBackendID       = "gomp"
)

// genlCommand is a command of the nbd generic-netlink family.
type genlCommand uint8

// Commands (enum NBD_CMD_*).
const (
	genlCmdConnect     genlCommand = 1 // NBD_CMD_CONNECT: configure and start a device; replies NBD_ATTR_INDEX
	genlCmdDisconnect  genlCommand = 2 // NBD_CMD_DISCONNECT: send NBD_CMD_DISC on every socket, tear down
	genlCmdReconfigure genlCommand = 3 // NBD_CMD_RECONFIGURE: replace dead sockets, change timeouts
	genlCmdLinkDead    genlCommand = 4 // NBD_CMD_LINK_DEAD: multicast when a socket dies
	genlCmdStatus      genlCommand = 5 // NBD_CMD_STATUS: index and connected state of devices
)

var genlCommandNames = map[genlCommand]string{
	genlCmdConnect: "NBD_CMD_CONNECT", genlCmdDisconnect: "NBD_CMD_DISCONNECT",
	genlCmdReconfigure: "NBD_CMD_RECONFIGURE", genlCmdLinkDead: "NBD_CMD_LINK_DEAD",
	genlCmdStatus: "NBD_CMD_STATUS",
}

func (c genlCommand) String() string {
	if s, ok := genlCommandNames[c]; ok {
		return s
	}
	return fmt.Sprintf("genlCommand(%d)", uint8(c))
}

// genlAttr is an attribute type of the family; the nested lists reuse small
// numbers in their own namespaces.
type genlAttr uint16

// Top-level attributes (enum NBD_ATTR_*) with the kernel's policy types.
const (
	attrIndex           genlAttr = 1  // u32
	attrSizeBytes       genlAttr = 2  // u64
	attrBlockSizeBytes  genlAttr = 3  // u64
	attrTimeout         genlAttr = 4  // u64, seconds
	attrServerFlags     genlAttr = 5  // u64, NBD transmission flags
	attrClientFlags     genlAttr = 6  // u64, nbdClientFlags
	attrSockets         genlAttr = 7  // nested list of sockItem
	attrDeadConnTimeout genlAttr = 8  // u64, seconds
	attrDeviceList      genlAttr = 9  // nested list of deviceItem (STATUS reply)
	attrBackendID       genlAttr = 10 // NUL-terminated string (kernel ≥ 5.13)
)

// Nested attributes.
const (
	sockItem        genlAttr = 1 // NBD_SOCK_ITEM in attrSockets
	sockFD          genlAttr = 1 // NBD_SOCK_FD (u32) in sockItem
	deviceItem      genlAttr = 1 // NBD_DEVICE_ITEM in attrDeviceList
	deviceIndex     genlAttr = 1 // NBD_DEVICE_INDEX (u32) in deviceItem
	deviceConnected genlAttr = 2 // NBD_DEVICE_CONNECTED (u8) in deviceItem
)

// nbdClientFlags is NBD_ATTR_CLIENT_FLAGS.
type nbdClientFlags uint64

// Client flags (NBD_CFLAG_*).
const (
	cflagDestroyOnDisconnect nbdClientFlags = 1 << 0 // delete the device once disconnected
	cflagDisconnectOnClose   nbdClientFlags = 1 << 1 // disconnect when the last opener closes /dev/nbdN
)

// genlClient runs nbd generic-netlink commands, one socket per command.
// dial is replaced in tests by a fake kernel.
type genlClient struct {
	dial func() (*genetlink.Conn, error)
}

func kernelGenl() genlClient {
	return genlClient{dial: func() (*genetlink.Conn, error) { return genetlink.Dial(nil) }}
}

// execute sends cmd with attrs and returns the replies that carry cmd. It
// always asks for an ACK, so commands without a reply (DISCONNECT,
// RECONFIGURE) return once the kernel is done; the socket is closed after
// each command, so an ACK queued behind a reply is never read by a later one.
func (g genlClient) execute(ctx context.Context, cmd genlCommand, attrs []byte) ([]genetlink.Message, error) {
	c, err := g.dial()
	if err != nil {
		return nil, fmt.Errorf("nbd: netlink: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl) // best effort: test connections have no deadlines
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fam, err := c.GetFamily(genlFamilyName)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrNetlinkUnavailable, err)
		}
		return nil, fmt.Errorf("nbd: netlink: resolve family %q: %w", genlFamilyName, err)
	}
	req := genetlink.Message{
		Header: genetlink.Header{Command: uint8(cmd), Version: genlVersion},
		Data:   attrs,
	}
	msgs, err := c.Execute(req, fam.ID, netlink.Request|netlink.Acknowledge)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("nbd: netlink %s: %w", cmd, ctx.Err())
		}
		return nil, fmt.Errorf("nbd: netlink %s: %w", cmd, err)
	}
	return slices.DeleteFunc(msgs, func(m genetlink.Message) bool {
		return m.Header.Command != uint8(cmd)
	}), nil
}

// netlinkParams are the settings NBD_CMD_CONNECT and NBD_CMD_RECONFIGURE
// carry; zero fields are left out.
type netlinkParams struct {
	index       int // -1: omitted
	size        uint64
	blockSize   uint64
	timeout     uint64 // seconds
	deadConn    uint64 // seconds
	serverFlags nbd.TransmissionFlags
	clientFlags nbdClientFlags
	backendID   string
	fds         []int
}

// encodeConnect builds NBD_CMD_CONNECT's attributes. INDEX is omitted when
// index is -1 (the kernel picks a free device or creates one); SIZE, BLOCK
// SIZE, SERVER_FLAGS, CLIENT_FLAGS and SOCKETS are always sent.
func encodeConnect(p netlinkParams) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	if p.index >= 0 {
		ae.Uint32(uint16(attrIndex), uint32(p.index))
	}
	ae.Uint64(uint16(attrSizeBytes), p.size)
	ae.Uint64(uint16(attrBlockSizeBytes), p.blockSize)
	ae.Uint64(uint16(attrServerFlags), uint64(p.serverFlags))
	ae.Uint64(uint16(attrClientFlags), uint64(p.clientFlags))
	encodeTimeouts(ae, p)
	encodeBackendID(ae, p.backendID)
	ae.Nested(uint16(attrSockets), encodeSockets(p.fds))
	return ae.Encode()
}

// encodeReconfigure builds NBD_CMD_RECONFIGURE's attributes: INDEX, the
// optional timeouts, CLIENT_FLAGS, the backend identifier the device was
// connected with (the kernel insists on it) and the new sockets.
func encodeReconfigure(p netlinkParams) ([]byte, error) {
	if p.index < 0 {
		return nil, errors.New("nbd: reconfigure needs a device index")
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(uint16(attrIndex), uint32(p.index))
	ae.Uint64(uint16(attrClientFlags), uint64(p.clientFlags))
	encodeTimeouts(ae, p)
	encodeBackendID(ae, p.backendID)
	ae.Nested(uint16(attrSockets), encodeSockets(p.fds))
	return ae.Encode()
}

func encodeTimeouts(ae *netlink.AttributeEncoder, p netlinkParams) {
	if p.timeout > 0 {
		ae.Uint64(uint16(attrTimeout), p.timeout)
	}
	if p.deadConn > 0 {
		ae.Uint64(uint16(attrDeadConnTimeout), p.deadConn)
	}
}

func encodeBackendID(ae *netlink.AttributeEncoder, id string) {
	if id != "" {
		ae.String(uint16(attrBackendID), id)
	}
}

func encodeSockets(fds []int) func(*netlink.AttributeEncoder) error {
	return func(nae *netlink.AttributeEncoder) error {
		for _, fd := range fds {
			nae.Nested(uint16(sockItem), func(s *netlink.AttributeEncoder) error {
				s.Uint32(uint16(sockFD), uint32(fd))
				return nil
			})
		}
		return nil
	}
}

// encodeIndex builds the attributes of NBD_CMD_DISCONNECT and NBD_CMD_STATUS:
// just INDEX, or nothing for index -1 (STATUS then lists every device).
func encodeIndex(index int) ([]byte, error) {
	if index < 0 {
		return nil, nil
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(uint16(attrIndex), uint32(index))
	return ae.Encode()
}

// decodeConnectReply returns NBD_ATTR_INDEX from NBD_CMD_CONNECT's reply.
func decodeConnectReply(msgs []genetlink.Message) (int, error) {
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return -1, fmt.Errorf("nbd: netlink %s reply: %w", genlCmdConnect, err)
		}
		for ad.Next() {
			if genlAttr(ad.Type()) == attrIndex {
				idx := ad.Uint32()
				if err := ad.Err(); err != nil {
					return -1, fmt.Errorf("nbd: netlink %s reply: %w", genlCmdConnect, err)
				}
				return int(idx), nil
			}
		}
		if err := ad.Err(); err != nil {
			return -1, fmt.Errorf("nbd: netlink %s reply: %w", genlCmdConnect, err)
		}
	}
	return -1, fmt.Errorf("nbd: netlink %s: no device index in the reply", genlCmdConnect)
}

// decodeStatus parses NBD_CMD_STATUS's NBD_ATTR_DEVICE_LIST, sorted by index.
func decodeStatus(msgs []genetlink.Message) ([]DeviceStatus, error) {
	var out []DeviceStatus
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return nil, fmt.Errorf("nbd: netlink %s reply: %w", genlCmdStatus, err)
		}
		for ad.Next() {
			if genlAttr(ad.Type()) == attrDeviceList {
				ad.Nested(func(list *netlink.AttributeDecoder) error {
					return decodeDeviceList(list, &out)
				})
			}
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("nbd: netlink %s reply: %w", genlCmdStatus, err)
		}
	}
	slices.SortFunc(out, func(a, b DeviceStatus) int { return a.Index - b.Index })
	return out, nil
}

func decodeDeviceList(list *netlink.AttributeDecoder, out *[]DeviceStatus) error {
	for list.Next() {
		if genlAttr(list.Type()) != deviceItem {
			continue
		}
		st := DeviceStatus{Index: -1}
		list.Nested(func(item *netlink.AttributeDecoder) error {
			for item.Next() {
				switch genlAttr(item.Type()) {
				case deviceIndex:
					st.Index = int(item.Uint32())
				case deviceConnected:
					st.Connected = item.Uint8() != 0
				}
			}
			return item.Err()
		})
		if st.Index < 0 {
			return errors.New("device item without an index")
		}
		*out = append(*out, st)
	}
	return list.Err()
}

func (g genlClient) connect(ctx context.Context, p netlinkParams) (int, error) {
	attrs, err := encodeConnect(p)
	if err != nil {
		return -1, err
	}
	msgs, err := g.execute(ctx, genlCmdConnect, attrs)
	if err != nil {
		return -1, err
	}
	return decodeConnectReply(msgs)
}

func (g genlClient) reconfigure(ctx context.Context, p netlinkParams) error {
	attrs, err := encodeReconfigure(p)
	if err != nil {
		return err
	}
	_, err = g.execute(ctx, genlCmdReconfigure, attrs)
	return err
}

func (g genlClient) disconnect(ctx context.Context, index int) error {
	if index < 0 {
		return fmt.Errorf("nbd: netlink %s: invalid index %d", genlCmdDisconnect, index)
	}
	attrs, _ := encodeIndex(index)
	_, err := g.execute(ctx, genlCmdDisconnect, attrs)
	return err
}

func (g genlClient) status(ctx context.Context, index int) ([]DeviceStatus, error) {
	attrs, err := encodeIndex(index)
	if err != nil {
		return nil, err
	}
	msgs, err := g.execute(ctx, genlCmdStatus, attrs)
	if err != nil {
		return nil, err
	}
	return decodeStatus(msgs)
}

// freeIndex picks the lowest index that STATUS reports as not connected, or
// one past the highest (NBD_CMD_CONNECT creates missing devices).
func freeIndexOf(devs []DeviceStatus) int {
	next := 0
	for _, d := range devs {
		if !d.Connected {
			return d.Index
		}
		next = max(next, d.Index+1)
	}
	return next
}

// Status returns the state of /dev/nbd<index>, or of every nbd device when
// index is -1, by NBD_CMD_STATUS. An index the kernel does not know gives an
// empty list. It needs the nbd module (ErrNetlinkUnavailable otherwise) but
// no privileges.
func Status(ctx context.Context, index int) ([]DeviceStatus, error) {
	return kernelGenl().status(ctx, index)
}

// FreeIndex returns the lowest nbd index that is neither attached nor held
// open, by NBD_CMD_STATUS; if every device is in use it returns the next
// index, which NBD_CMD_CONNECT creates. Another process may take the index
// before it is used; Attach with Index -1 avoids that race.
func FreeIndex(ctx context.Context) (int, error) {
	devs, err := Status(ctx, -1)
	if err != nil {
		return -1, err
	}
	return freeIndexOf(devs), nil
}
