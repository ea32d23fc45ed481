//go:build linux

// Command kernelprobe exercises kernel.Attach against a real kernel: it is the
// guest side of `make test-kernel` (scripts/kernel-lab/) until `gomp attach`
// takes its place. It serves an in-memory export (nbd.NewMemory) and, with
// the chosen attach mode:
//
//  1. attaches it (/dev/nbdN, the kernel's choice), makes an ext4 on it with
//     mke2fs, mounts it, writes files, syncs, unmounts, checks it with
//     e2fsck -fn, and disconnects;
//  2. checks that the ext4 superblock reached the export (not only the page
//     cache), re-attaches the same export and reads the files back;
//  3. with -reconfigure (netlink): attaches with a dead-connection timeout,
//     kills the serving connections as a crash would, starts a read that
//     must wait, hands the kernel new sockets with kernel.Reconfigure, and
//     checks that the read completes and the files read back.
//
// It prints one "ok:" or "FAIL:" line per check and exits 1 on any failure.
// It needs root, the nbd and ext4 modules (nbd is loaded by kernel.LoadModule
// when missing) and is built with CGO_ENABLED=0 for the initramfs.
//
// Specs: the Linux nbd driver's netlink and ioctl interfaces as package
// nbd/kernel uses them (kernel.Attach, kernel.Reconfigure) and NBD
// transmission (the NBD project's doc/proto.md). Not implemented: file systems other than ext4,
// and the iSCSI or multipath layers (the export is in memory).
package main
