// Package kernel attaches an nbd.Backend to the Linux kernel's nbd driver as
// a block device, /dev/nbdN: Attach makes AF_UNIX socketpairs, hands one end
// of each to the kernel and serves the other with nbd.Server's
// ServeTransmission (no handshake; the kernel is told the size, block size
// and nbd.ExportFlags out of band), so the server's limits, Shutdown and
// logging apply to the kernel's requests as to any client's. It also holds
// what goes with a device: Reconfigure (new sockets for a device whose
// connections died), Device.Resize, Device.Disconnect and DisconnectIndex,
// the device state in sysfs (ReadDeviceInfo, ListDevices, IdleDevices)
// and by netlink (Status, FreeIndex), module loading (LoadModule, through
// u-root's kmodule), and Mount, Unmount and Mounted for a file system on
// the device. A process that restarts finds its device again by the
// backend identifier it attached it with (BackendID, shown in sysfs):
// AttachOrReconfigure then hands that device new sockets, and its mount
// and queued I/O survive, instead of attaching a new one.
//
// The kernel interfaces are those of <linux/nbd-netlink.h> and
// <linux/nbd.h>, as drivers/block/nbd.c implements them:
//
//   - The "nbd" generic-netlink family, version 1 (Linux 4.12 and later),
//     one socket per command, each acknowledged. NBD_CMD_CONNECT sends
//     NBD_ATTR_INDEX (left out to let the kernel pick or create a device;
//     the reply carries the index), NBD_ATTR_SIZE_BYTES,
//     NBD_ATTR_BLOCK_SIZE_BYTES, NBD_ATTR_SERVER_FLAGS (the transmission
//     flags; without them the kernel sends no FLUSH, FUA or TRIM),
//     NBD_ATTR_CLIENT_FLAGS (NBD_CFLAG_DESTROY_ON_DISCONNECT,
//     NBD_CFLAG_DISCONNECT_ON_CLOSE), NBD_ATTR_TIMEOUT and
//     NBD_ATTR_DEAD_CONN_TIMEOUT when set, NBD_ATTR_BACKEND_IDENTIFIER
//     (Linux 5.13 and later; /sys/block/nbdN/backend) and NBD_ATTR_SOCKETS,
//     one NBD_SOCK_ITEM with NBD_SOCK_FD per connection.
//     NBD_CMD_RECONFIGURE repeats INDEX, CLIENT_FLAGS, the timeouts, the
//     backend identifier (the kernel insists on it) and new SOCKETS, which
//     replace only connections the kernel saw die; Device.Resize sends it
//     with INDEX, SIZE_BYTES and the identifier (applied since Linux 5.3).
//     NBD_CMD_DISCONNECT sends INDEX; NBD_CMD_STATUS sends INDEX or nothing
//     and reads NBD_ATTR_DEVICE_LIST (NBD_DEVICE_INDEX,
//     NBD_DEVICE_CONNECTED).
//   - The ioctl fallback, used when the kernel has no nbd netlink family
//     (ErrNetlinkUnavailable) or when asked (AttachIoctl): NBD_SET_BLKSIZE,
//     NBD_SET_SIZE_BLOCKS, NBD_SET_FLAGS, NBD_SET_TIMEOUT when set, one
//     NBD_SET_SOCK per connection, then NBD_DO_IT, which sleeps until the
//     device stops, on a locked OS thread with every signal blocked (the
//     kernel ties the sockets to that thread, and a signal tears the device
//     down); NBD_CLEAR_SOCK after it; NBD_DISCONNECT to stop it. The device
//     is ready once sysfs shows its pid file and size. Resize uses
//     NBD_SET_SIZE_BLOCKS on the running device.
//
// After the attach the device's queue/max_sectors_kb is raised from the
// driver's 128 KiB to AttachConfig.MaxIO (by default the block layer's
// 1280 KiB for a SCSI disk). Socket buffers of the socketpairs are forced
// to nbd.SocketBufferSize beyond the system's maximum (SO_SNDBUFFORCE,
// SO_RCVBUFFORCE). /sys and /dev can be replaced (AttachConfig.SysRoot,
// DevRoot) and the netlink and ioctl system calls are injectable, so most
// of the package is tested without privileges; the rest needs root and the
// nbd module, and runs under QEMU in the kernel lab (scripts/kernel-lab).
//
// Not implemented: other systems than Linux (every function fails with an
// error matching errors.ErrUnsupported), the NBD_CMD_LINK_DEAD multicast
// (a dead device is noticed by its connections ending), reconfiguring or
// a dead-connection timeout, backend identifier or client flags with the
// ioctls, the module parameters nbds_max and max_part (left at their
// defaults; NBD_CMD_CONNECT creates devices beyond nbds_max), NBD_SET_SIZE
// and the other legacy ioctls, and file systems' own mount helpers (Mount
// is mount(2) with mount(8)'s generic options turned into flags).
package kernel
