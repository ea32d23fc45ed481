// Package iscsitest is a scripted, in-process iSCSI target for tests. It is
// test-only infrastructure: the initiator's unit tests and the hostile-target
// suite run against it; nothing in gomp's product code imports it. (The
// package is not called "target" because in iSCSI that word names the
// peer, its IQN and its portals; iscsitest says what it is for.)
//
// It is a real RFC 7143 peer, small and deterministic, built on package pdu:
//
//   - Pipe: buffered in-memory connections (both ends may write first,
//     unlike net.Pipe) with deadlines, orderly close and reset.
//   - Login (§6.3, §11.12-§11.13): security stage with AuthMethod None or
//     CHAP (§12.1.3; MD5, SHA-1, SHA-256, SHA3-256; one-way or mutual, with
//     deterministic challenges), operational negotiation answering every
//     RFC 7143 §13 key with its result function, CRC32C header and data
//     digests switched on after the final response, text continuation
//     both ways, TSIH assignment, failure statuses (authentication 0x0201,
//     not found 0x0203, missing parameter 0x0207, unsupported version,
//     session type or TSIH) and redirection (0x0101/0x0102).
//   - Discovery and Text (§11.10-§11.11, Appendix C): SendTargets with
//     TargetName and TargetAddress, answers longer than the initiator's
//     MaxRecvDataSegmentLength split with C and a Target Transfer Tag.
//   - Full feature phase: CmdSN ordering with a configurable window
//     (including a closed one) over RFC 1982 serial arithmetic, commands
//     ahead of ExpCmdSN queued, commands outside the window dropped;
//     ExpCmdSN/MaxCmdSN in every response and StatSN per connection;
//     NOP-Out echo and target NOP-In pings; Logout; Asynchronous Messages
//     on demand; Task Management (ABORT TASK, ABORT/CLEAR TASK SET,
//     LOGICAL UNIT RESET, TARGET WARM/COLD RESET); Reject.
//   - SCSI (SPC-4, SBC-4) on in-memory sparse LUNs: INQUIRY (standard, VPD
//     0x00, 0x80, 0x83, 0xB0, 0xB2), TEST UNIT READY, REQUEST SENSE, MODE
//     SENSE(6/10) header only, READ CAPACITY(10/16), READ and WRITE(10/16),
//     SYNCHRONIZE CACHE(10/16), UNMAP, WRITE SAME(16) with UNMAP and NDOB,
//     REPORT LUNS, REPORT TARGET PORT GROUPS; fixed-format sense for
//     unknown opcodes (20/00), out-of-range LBAs (21/00), bad CDB fields
//     (24/00), absent LUNs (25/00) and a unit attention after login (29/00).
//   - Data movement: immediate data, unsolicited Data-Out up to
//     FirstBurstLength, R2Ts of at most MaxBurstLength (and Config.R2TSplit)
//     with MaxOutstandingR2T in flight, Data-In split at the initiator's
//     MaxRecvDataSegmentLength (and Config.DataInSplit) with F ending each
//     MaxBurstLength sequence, optional phase collapse, residual overflow
//     and underflow.
//
// Every rule the initiator breaks that the target can see is recorded in
// Conn.Stats().Violations, so a test can assert that an initiator behaved.
//
// Faults are injected with Hooks, so that session tests can drop, delay
// or corrupt what a target sends without a network: OnReceive and
// BeforeSend return an Action (Continue after an in-place change, Drop,
// Close, Reset, Stall, Truncate after the header, Trickle one byte at a
// time) and may block to delay; Rewrite forges the encoded bytes (an AHS
// or data segment length that lies); HoldCommand keeps a command pending
// so that an abort has something to abort; Conn offers WriteRaw, Inject
// (a forged PDU outside the protocol state, for floods), Numbers,
// CorruptNextDigest, Kill, Reset, SetCmdSNWindow, Ping and SendAsync.
// The hostile-target suites (iscsi/hostile_fake_test.go,
// multipath/hostile_fake_test.go) are built on these.
//
// Concurrency: each connection has one reader goroutine (the caller of
// Serve) and, with Config.NOPInInterval, one pinger; Serve returns only
// after both ended. PDUs are written whole, one at a time, under a lock.
//
// Not implemented: multiple connections per session and session
// reinstatement (a login with a nonzero TSIH fails); ErrorRecoveryLevel
// above 0 (SNACK is rejected, no recovery R2Ts); DataPDUInOrder or
// DataSequenceInOrder = No; bidirectional commands; the target offering
// keys the initiator left out (defaults then apply, so Config's limits only
// bind an initiator that offers the key); text negotiation of keys other
// than SendTargets in full feature phase; persistent reservations, MODE
// pages, EXTENDED COPY and the rest of SBC. The unit attention is per
// connection, not per I_T nexus across sessions.
package iscsitest
