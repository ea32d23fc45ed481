// Package chap is the initiator's side of CHAP authentication for iSCSI
// (RFC 7143 §12.1.3, after RFC 1994): the digest algorithms, the response
// computation, challenge generation and verification for mutual CHAP, and
// handling of the shared secrets.
//
// The exchange itself (which keys go in which Login PDU) belongs to the login
// state machine; this package supplies its parts:
//
//   - CHAP_A: the initiator offers FormatAlgorithms(DefaultAlgorithms()),
//     i.e. "8,7,6,5", and reads the target's choice with ParseAlgorithm.
//     Numbers follow the IANA "PPP Authentication Algorithms" registry that
//     RFC 7143 refers to: 5 MD5, 6 SHA-1, 7 SHA-256, 8 SHA3-256.
//   - CHAP_I and CHAP_C from the target: ParseIdentifier and pdu.ParseBinary,
//     then ValidateChallenge (minimum length, and for mutual CHAP a target
//     challenge equal to ours is a reflection attack).
//   - CHAP_R: Response(alg, id, secret, challenge) = H(id || secret ||
//     challenge), sent as pdu.FormatHex.
//   - Mutual CHAP: NewChallenge for our CHAP_I/CHAP_C, then Verify on the
//     target's CHAP_R (constant time).
//
// Secrets are of type Secret, which prints as "[redacted]" through fmt, slog
// and text/JSON marshalling, so that it cannot leak into logs by accident.
// LoadSecret reads one from a file and warns (without failing) when the file
// is accessible to group or others or the secret is shorter than the 12
// bytes RFC 7143 §12.1.3 expects without IPsec.
//
// Interoperability: tgtd (fujita/tgt, usr/iscsi/chap.c) predates the IANA
// numbers and treats CHAP_A=7 as SHA-1, not SHA-256, so an initiator that
// offers "8,7,6,5" to tgtd gets 7 back and computes a response tgtd cannot
// check. Offer MD5 only ({MD5}) to tgtd; LIO follows the registry.
//
// Not implemented: the target side of one-way CHAP, SRP, Kerberos and SPKM
// (AuthMethod values other than CHAP and None), base64 ("0b") output, and
// secrets given as binary constants in files.
package chap
