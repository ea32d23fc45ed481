// Package nbd is a Network Block Device server: it exports a Backend (any
// random-access store with a context on every call) to NBD clients, userspace
// ones (qemu, nbdcopy, nbdfuse, fio's nbd engine) over a unix or TCP socket,
// or the Linux kernel's nbd driver over a socketpair (package nbd/kernel
// attaches a Backend as /dev/nbdN; this package only serves the sockets).
// It knows nothing about iSCSI; package multipath's Device is one Backend,
// MemoryBackend another.
//
// The protocol is the NBD project's doc/proto.md. Implemented:
//
//   - "Fixed newstyle negotiation" with NBD_FLAG_FIXED_NEWSTYLE and
//     NBD_FLAG_NO_ZEROES; options NBD_OPT_EXPORT_NAME, NBD_OPT_GO and
//     NBD_OPT_INFO (NBD_INFO_EXPORT, NBD_INFO_NAME, NBD_INFO_DESCRIPTION,
//     NBD_INFO_BLOCK_SIZE), NBD_OPT_LIST, NBD_OPT_ABORT and
//     NBD_OPT_STRUCTURED_REPLY; every other option is answered with
//     NBD_REP_ERR_UNSUP and haggling goes on. Option data is limited to
//     8 KiB (longer options up to 1 MiB are skipped and fail with
//     NBD_REP_ERR_TOO_BIG; longer still closes the connection), and option
//     haggling to Server.HandshakeTimeout.
//   - "Transmission": NBD_CMD_READ, NBD_CMD_WRITE (with NBD_CMD_FLAG_FUA),
//     NBD_CMD_FLUSH, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES (with
//     NBD_CMD_FLAG_NO_HOLE) and NBD_CMD_DISC; simple replies, and with
//     structured replies one NBD_REPLY_TYPE_OFFSET_DATA chunk per read (so
//     NBD_FLAG_SEND_DF is offered) or an NBD_REPLY_TYPE_ERROR chunk.
//     Replies go out of order, matched by cookie. Transmission flags are
//     advertised only for what the Backend implements ("Transmission flags";
//     see ExportFlags and the optional interfaces Flusher, Trimmer, Zeroer,
//     BlockSizer, Capable).
//   - "Size constraints": requests are checked against the export size, the
//     minimum block size (when a BlockSizer sets one) and the payload limit
//     before any buffer is taken; failures get the errno of "Error values"
//     (EINVAL, ENOSPC, EPERM, EOVERFLOW) and the connection goes on.
//     Unknown commands and flags fail with EINVAL. A bad request magic, a
//     write payload over Server.MaxRequest, or EOF inside a message closes
//     that connection (logged with the peer); others keep being served.
//   - "Terminating the transmission phase": after NBD_CMD_DISC, and on
//     Server.Shutdown, requests in flight are answered before the close. On
//     Shutdown the server stops reading rather than failing further requests
//     with ESHUTDOWN; options still arriving during haggling get
//     NBD_REP_ERR_SHUTDOWN, and idle haggling connections are closed.
//
// Data path: per connection, one reader goroutine reads requests through a
// 16 KiB buffer (larger write payloads go straight into the request buffer),
// up to Server.MaxInFlight workers call the Backend, and one writer sends
// every ready reply in one vectored write (header and payload unjoined, the
// payload not copied). A Backend that never blocks (Inliner, as the memory
// backend) has requests up to 64 KiB executed by the reader itself, which
// answers each burst of requests with one write; one that is also a
// Receiver (the memory backend again) has every write's payload read
// straight from the socket into its store, with no request buffer. Socket
// reads and writes are raw system calls on the non-blocking socket
// (internal/rawio) on Linux. Request buffers come from per-Server
// sync.Pools by power-of-two size class (4 KiB to 1 GiB), and a connection
// holds at most Server.MaxInFlightBytes of them. The steady state allocates
// nothing per request (TestAllocsPerRequest).
//
// ServeTransmission serves a connection that skips the handshake, as the
// kernel's: command flags sit in the upper 16 bits of the 32-bit type word
// (FUA = 1<<16), which is the same wire layout as the 16-bit flags and type
// fields of proto.md; only simple replies are sent. For nbd/kernel the
// package also exports ExportFlags (the flags the kernel is told),
// Server.RequestLimit (which caps the kernel's request size) and
// SocketBufferSize (forced on the kernel's socketpairs, which the server
// then leaves alone).
//
// TLS ("TLS support", "NBD_OPT_STARTTLS"): Server.TLS picks one of the
// protocol's modes. TLSOff is NOTLS (NBD_OPT_STARTTLS fails with
// NBD_REP_ERR_UNSUP, or NBD_REP_ERR_POLICY when a TLSConfig is set); TLSOn
// lets each client upgrade or not (SELECTIVETLS with no TLS-only export);
// TLSRequire is FORCEDTLS: before the upgrade every option but STARTTLS and
// ABORT fails with NBD_REP_ERR_TLS_REQD, so nothing (not even the export
// list) is told to a plain-text client, and NBD_OPT_EXPORT_NAME closes the
// connection. NBD_OPT_STARTTLS is answered NBD_REP_ACK and the TLS
// handshake follows on the same socket under the handshake timeout; option
// haggling then starts over inside TLS with no option state kept
// (structured replies must be asked again), a second STARTTLS or one with
// data fails with NBD_REP_ERR_INVALID, and a failed handshake closes the
// connection. Certificates are X.509 only, through a crypto/tls Config
// (client certificates with ClientAuth and ClientCAs): Go's crypto/tls
// has no TLS-PSK, so nbdkit's and qemu-nbd's PSK mode is not offered.
// Transmission over TLS reads and writes the tls.Conn as an ordinary
// net.Conn (no raw system calls), gathering each batch of replies into
// records of up to 16 KiB.
//
// Not implemented: oldstyle and non-fixed newstyle negotiation, TLS-PSK
// and per-export TLS policies, metadata contexts
// and NBD_CMD_BLOCK_STATUS (NBD_OPT_LIST/SET_META_CONTEXT answer ERR_UNSUP,
// so clients see every block as data), NBD_CMD_CACHE, NBD_CMD_FLAG_FAST_ZERO,
// NBD_REPLY_TYPE_OFFSET_HOLE (holes are sent as data), the experimental
// EXTENDED_HEADERS and RESIZE extensions, and NBD_FLAG_ROTATIONAL.
package nbd
