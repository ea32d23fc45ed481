package pdu

import "hash/crc32"

// castagnoli is the CRC32C table of RFC 7143 §12.1 (polynomial 0x1EDC6F41,
// reflected); the digest goes on the wire least significant byte first
// (Appendix A.4 gives the test vectors).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the iSCSI digest of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// updateCRC32C continues a digest over b.
func updateCRC32C(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// appendDigest appends a digest in wire byte order.
func appendDigest(b []byte, crc uint32) []byte {
	return append(b, byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24))
}

// digestAt reads a digest in wire byte order.
func digestAt(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
