package kernel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/stretchr/testify/require"
)

// A netlink device is resized with NBD_CMD_RECONFIGURE carrying only
// INDEX, SIZE_BYTES and the backend identifier.
func TestResizeNetlink(t *testing.T) {
	skipBigEndian(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := &fakeGenl{handle: func(genetlink.Message) ([]genetlink.Message, error) { return nil, nil }}
	d := &Device{mode: AttachNetlink, log: discard(), index: 3, path: "/dev/nbd3",
		osDevice: osDevice{p: attachParams{blockSize: 4096, backendID: "gomp"}, genl: k.client()}}
	require.NoError(t, d.Resize(ctx, 1<<30))
	require.Len(t, k.reqs, 1)
	require.Equal(t, []byte{
		0x03, 0x01, 0x00, 0x00, // NBD_CMD_RECONFIGURE
		0x08, 0x00, 0x01, 0x00, 3, 0, 0, 0, // INDEX
		0x0c, 0x00, 0x02, 0x00, 0, 0, 0, 0x40, 0, 0, 0, 0, // SIZE_BYTES u64 1 GiB
		0x09, 0x00, 0x0a, 0x00, 'g', 'o', 'm', 'p', 0, 0, 0, 0, // BACKEND_IDENTIFIER (must match)
	}, genlBytes(t, genlCmdReconfigure, k.reqs[0].Data))

	err := d.Resize(ctx, 1<<30+512)
	require.ErrorContains(t, err, "/dev/nbd3")
	require.ErrorContains(t, err, "block size 4096")
	require.Len(t, k.reqs, 1, "refused before asking the kernel")
}

// An ioctl device is resized with NBD_SET_SIZE_BLOCKS on its node.
func TestResizeIoctl(t *testing.T) {
	var calls []string
	sys := ioctlSys{
		open:  func(path string) (int, error) { calls = append(calls, "open "+path); return 7, nil },
		close: func(fd int) error { calls = append(calls, "close"); return nil },
		ioctl: func(fd int, req ioctlRequest, arg uintptr) error {
			calls = append(calls, req.String())
			require.Equal(t, 7, fd)
			require.Equal(t, uintptr(2048), arg)
			return nil
		},
	}
	d := &Device{mode: AttachIoctl, log: discard(), index: 1, path: "/dev/nbd1",
		osDevice: osDevice{p: attachParams{blockSize: 512}, sys: sys}}
	require.NoError(t, d.Resize(context.Background(), 1<<20))
	require.Equal(t, []string{"open /dev/nbd1", "NBD_SET_SIZE_BLOCKS", "close"}, calls)

	sys.ioctl = func(int, ioctlRequest, uintptr) error { return errors.New("EINVAL") }
	d.sys = sys
	require.ErrorContains(t, d.Resize(context.Background(), 1<<20), "resize /dev/nbd1 to 1048576 bytes: EINVAL")
}
