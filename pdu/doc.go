// Package pdu is the iSCSI wire format of RFC 7143: the Basic Header Segment
// (§11.2.1), Additional Header Segments (§11.2.2), data segments with their
// 4-byte padding, CRC32C header and data digests (§12.1, Appendix A.4), every
// PDU of §11 in both directions, and the text key=value codec of §6 used by
// Login and Text PDUs (§6.1, §6.2, §13).
//
// Each opcode has its own Go type (NOPOut, SCSICommand, DataIn, …) that
// implements PDU. Encoders append to a caller's slice (AppendBinary,
// AppendHeader); decoders never allocate on the steady-state path and return
// typed errors (*FieldError, *LimitError, *DigestError) that name the field and
// the offending value. Decode on any input returns an error or a PDU; it never
// panics.
//
// A Framer reads PDUs from an io.Reader and writes them to an io.Writer. It
// checks DataSegmentLength against the negotiated MaxRecvDataSegmentLength
// before it reads or allocates anything, reuses its buffers, verifies digests,
// and lets the caller read a data segment straight into its own buffer
// (ReadHeader + ReadData(dst)), the zero-copy hook of the SCSI read path. On
// the write side, queued PDUs leave as one vectored write.
//
// The package is wire code only: it starts no goroutines, does no network I/O
// of its own, keeps no clocks and does no logging. Sequence-number arithmetic,
// negotiation results and session state belong to package iscsi.
//
// Not implemented: markers (FIM, removed from RFC 7143), iSER (RFC 7145)
// framing, and the RFC 7144 "X-" private key semantics beyond passing such keys
// through the text codec.
package pdu
