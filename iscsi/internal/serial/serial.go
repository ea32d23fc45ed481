package serial

// Less reports whether a precedes b in serial order: the distance from a to
// b, modulo 2^32, is in (0, 2^31). Two numbers exactly 2^31 apart are
// unordered and neither is Less.
func Less(a, b uint32) bool { return a != b && int32(b-a) > 0 }

// LessEq reports a == b or Less(a, b).
func LessEq(a, b uint32) bool { return a == b || Less(a, b) }

// Max returns the later of a and b in serial order (a when unordered).
func Max(a, b uint32) uint32 {
	if Less(a, b) {
		return b
	}
	return a
}

// Window reports how many numbers from next through max (inclusive) are
// open: 0 when max precedes next, as when MaxCmdSN = ExpCmdSN - 1 closes the
// command window (RFC 7143 §4.2.2.1).
func Window(next, max uint32) uint32 {
	if !LessEq(next, max) {
		return 0
	}
	return max - next + 1
}
