package kernel

import (
	"context"
	"fmt"

	"github.com/mdlayher/netlink"
)

// Resize tells the kernel the device's new size in bytes, a multiple of
// its block size, while it is served (an exported LUN grew), and the
// kernel announces it (a change uevent; lsblk and file systems see the
// new size). A netlink device gets NBD_CMD_RECONFIGURE with
// NBD_ATTR_SIZE_BYTES: Linux applies the size attributes of a
// reconfigure (nbd_genl_size_set) since 5.3, 6.1 included. An ioctl
// device gets NBD_SET_SIZE_BLOCKS on its node, which a running device
// takes too (the kernel refuses it only for netlink devices). NBD
// clients of the Server's sockets learn the size when they connect.
func (d *Device) Resize(ctx context.Context, size int64) error {
	bs := int64(d.p.blockSize)
	if size <= 0 || bs == 0 || size%bs != 0 {
		return fmt.Errorf("nbd: resize %s to %d bytes: not a positive multiple of the block size %d", d.path, size, bs)
	}
	var err error
	if d.mode == AttachIoctl {
		err = ioctlResize(d.sys, d.path, uint64(size/bs))
	} else {
		var attrs []byte
		if attrs, err = encodeResize(d.index, uint64(size), d.p.backendID); err == nil {
			_, err = d.genl.execute(ctx, genlCmdReconfigure, attrs)
		}
	}
	if err != nil {
		return fmt.Errorf("nbd: resize %s to %d bytes: %w", d.path, size, err)
	}
	d.log.Info("nbd: device resized", "dev", d.path, "size", size)
	return nil
}

// encodeResize builds the attributes of an NBD_CMD_RECONFIGURE that only
// changes the size: INDEX, SIZE_BYTES and the backend identifier the
// device was connected with (the kernel insists on it).
func encodeResize(index int, size uint64, backendID string) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(uint16(attrIndex), uint32(index))
	ae.Uint64(uint16(attrSizeBytes), size)
	encodeBackendID(ae, backendID)
	return ae.Encode()
}

// ioctlResize sets an ioctl device's size in blocks of its block size.
func ioctlResize(sys ioctlSys, path string, blocks uint64) error {
	fd, err := sys.openDev(path)
	if err != nil {
		return err
	}
	defer sys.closeFD(fd)
	return sys.do(fd, nbdSetSizeBlocks, uintptr(blocks))
}
