// Package iscsi is an iSCSI initiator (RFC 7143, with the RFC 7144 keys):
// what open-iscsi's "iscsiadm -m discovery" and "iscsiadm -m node -l" do, as
// a library.
//
// Discover runs a SendTargets discovery session (§4.3, Appendix C). Dial
// logs in to one target portal (§6: security stage with CHAP or none, then
// operational negotiation of the §13 keys) and returns a Session in the
// full-feature phase. A Session has one TCP connection with one reader
// goroutine matching responses to tasks by ITT, and one writer goroutine
// that sends the PDUs of concurrent tasks in batches, one writev each (a
// task's own goroutine writes when the writer is idle). Data segments of
// 8 KiB or more are read from the socket straight into the caller's
// buffer; socket reads and writes are raw system calls on the non-blocking
// socket (internal/rawio) on Linux. It
// keeps the CmdSN window with RFC 1982 arithmetic (§4.2.2.1), acknowledges
// StatSN, answers and sends NOP pings (§11.18-19), honours asynchronous
// messages (§11.9), aborts timed-out tasks (ABORT TASK, §11.5) and, with
// Config.Recover, reinstates a failed session at ERL 0 (§6.3.5: same ISID,
// TSIH 0, after DefaultTime2Wait).
//
// Reads land straight in the caller's buffer: Data-In payloads are read
// from the socket into Command.Read. Writes leave from the caller's buffer:
// immediate data, unsolicited Data-Out and the Data-Out answering each R2T
// reference Command.Write and are written with writev.
//
// Errors come in two kinds. Connection-fatal errors satisfy
// errors.Is(err, ErrConnection): the connection died or the target broke the
// protocol, and the command may be retried on another path. Task errors
// are returned as *SCSIError (status and decoded sense), *RejectError or
// *ResponseError: the path is fine and the error is the command's own.
//
// Session.ReportLUNs lists the target's LUN numbers (REPORT LUNS);
// Session.DiskLUNs inquires each and keeps the disks, which Session.OpenLUN opens.
//
// LUN wraps one logical unit as an io.ReaderAt and io.WriterAt with
// context-taking variants, Flush (SYNCHRONIZE CACHE), Unmap and
// WriteZeroes (WRITE SAME). Session.Inquire reads INQUIRY, VPD 0x80, 0x83
// (WWID by multipath's rule), 0xB0, 0xB2, READ CAPACITY(16) and MODE SENSE
// (10, else 6: the Caching page's WCE and RCD, the DPOFUA and WP bits,
// SBC-3 §6.4). A LUN sends only what the target offers, as Linux's sd
// driver does: a FUA write is WRITE(16) with FUA only with DPOFUA, else a
// write and SYNCHRONIZE CACHE when the cache is volatile (or unknown); and
// when the target refuses an optional command or bit anyway (ILLEGAL
// REQUEST, INVALID FIELD IN CDB or INVALID COMMAND OPERATION CODE) the LUN
// stops using it and falls back: FUA to a write and a flush, SYNCHRONIZE
// CACHE(16) to (10) and then to nothing (no cache), WRITE SAME to zero-block
// writes, UNMAP to ErrUnsupported. The unit attentions MODE PARAMETERS
// CHANGED and INQUIRY DATA HAS CHANGED mark the LUN Stale; Refresh reads
// its capabilities again.
//
// Not implemented: multiple connections per session (MaxConnections=1),
// error recovery levels 1 and 2 (SNACK, connection recovery), bidirectional
// commands, iSER, and Text renegotiation in the full-feature phase.
package iscsi
