// Command nbdzero sends NBD_CMD_WRITE_ZEROES to an NBD server on a unix
// socket (gomp attach --listen) and reads the range back, checking that
// it is zero: the kernel lab's way to reach WRITE SAME behind gomp, as
// the guest kernel's nbd driver (6.1) never sends WRITE_ZEROES and
// turns BLKZEROOUT into plain writes of zeroes.
//
//	nbdzero -socket PATH -export NAME -offset BYTES -length BYTES [-no-hole]
//
// It prints one line and exits 0 when the range reads back as zeroes, 1
// otherwise. Not implemented: TCP sockets, TLS, ranges over 4 GiB.
package main
