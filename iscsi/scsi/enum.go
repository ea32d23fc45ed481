package scsi

import (
	"fmt"
	"strings"
)

// enumString names v from names, or formats it as typ(0xNN).
func enumString[T ~uint8 | ~uint16](names map[T]string, v T, typ string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(0x%02x)", typ, uint64(v))
}

type flagName struct {
	bit  uint8
	name string
}

// flagString joins the names of the bits set in v with "|", in the order
// given; unnamed bits are shown in hex; no bits is "0".
func flagString(v uint8, names []flagName) string {
	var parts []string
	for _, f := range names {
		if v&f.bit != 0 {
			parts = append(parts, f.name)
			v &^= f.bit
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("0x%02x", v))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}
