package kernel

import (
	"slices"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/require"
)

// encodeStatusReply builds an NBD_CMD_STATUS reply as the kernel does: a
// device list of items, each with an index and a connected flag.
func encodeStatusReply(t testing.TB, devs []DeviceStatus) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(uint16(attrDeviceList), func(list *netlink.AttributeEncoder) error {
		for _, d := range devs {
			list.Nested(uint16(deviceItem), func(item *netlink.AttributeEncoder) error {
				item.Uint32(uint16(deviceIndex), uint32(d.Index))
				c := uint8(0)
				if d.Connected {
					c = 1
				}
				item.Uint8(uint16(deviceConnected), c)
				return nil
			})
		}
		return nil
	})
	b, err := ae.Encode()
	require.NoError(t, err)
	return b
}

// TestNetlinkRepliesRoundTrip: a status reply and a connect reply encoded
// as the kernel sends them decode to what was encoded.
func TestNetlinkRepliesRoundTrip(t *testing.T) {
	devs := []DeviceStatus{{Index: 3, Connected: true}, {Index: 0, Connected: true}, {Index: 1}}
	got, err := decodeStatus([]genetlink.Message{{Data: encodeStatusReply(t, devs)}})
	require.NoError(t, err)
	require.Equal(t, []DeviceStatus{{Index: 0, Connected: true}, {Index: 1}, {Index: 3, Connected: true}}, got)
	require.Equal(t, 1, freeIndexOf(got))
	b, err := encodeIndex(7)
	require.NoError(t, err)
	idx, err := decodeConnectReply([]genetlink.Message{{Data: b}})
	require.NoError(t, err)
	require.Equal(t, 7, idx)
}

// FuzzNetlinkReplies decodes arbitrary bytes as the kernel's
// NBD_CMD_STATUS and NBD_CMD_CONNECT replies: no panic; a status decodes
// to devices sorted by index, none negative, and the free index picked
// from them is not negative; a connect reply gives an index or an error.
func FuzzNetlinkReplies(f *testing.F) {
	f.Add(encodeStatusReply(f, []DeviceStatus{{Index: 0, Connected: true}, {Index: 2}}))
	f.Add(encodeStatusReply(f, nil))
	if b, err := encodeIndex(5); err == nil {
		f.Add(b)
	}
	f.Add([]byte{4, 0, 1, 0})
	f.Add([]byte{0xff, 0xff, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := []genetlink.Message{{Data: data}}
		if devs, err := decodeStatus(msgs); err == nil {
			if !slices.IsSortedFunc(devs, func(a, b DeviceStatus) int { return a.Index - b.Index }) {
				t.Fatalf("status not sorted: %v", devs)
			}
			for _, d := range devs {
				if d.Index < 0 {
					t.Fatalf("negative index in %v", devs)
				}
			}
			if freeIndexOf(devs) < 0 {
				t.Fatalf("negative free index from %v", devs)
			}
		}
		if idx, err := decodeConnectReply(msgs); err == nil && idx < 0 {
			t.Fatalf("connect reply index %d", idx)
		}
	})
}
