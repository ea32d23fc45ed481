package scsi

// AccessState is an ASYMMETRIC ACCESS STATE (SPC-4 §5.11.2.4, §6.36).
type AccessState uint8

// Asymmetric access states.
const (
	StateActiveOptimized    AccessState = 0x0
	StateActiveNonOptimized AccessState = 0x1
	StateStandby            AccessState = 0x2
	StateUnavailable        AccessState = 0x3
	StateLBADependent       AccessState = 0x4
	StateOffline            AccessState = 0xE
	StateTransitioning      AccessState = 0xF
)

var accessStateNames = map[AccessState]string{
	StateActiveOptimized: "active/optimized", StateActiveNonOptimized: "active/non-optimized",
	StateStandby: "standby", StateUnavailable: "unavailable",
	StateLBADependent: "logical block dependent", StateOffline: "offline",
	StateTransitioning: "transitioning",
}

// String returns the name of the value, or "AccessState(0xNN)" for an
// unknown value.
func (s AccessState) String() string { return enumString(accessStateNames, s, "AccessState") }

// Active reports whether the state serves reads and writes: active/optimized
// or active/non-optimized.
func (s AccessState) Active() bool {
	return s == StateActiveOptimized || s == StateActiveNonOptimized
}

// SupportedStates holds the T_SUP … AO_SUP bits of a target port group
// descriptor: the states the group can be in.
type SupportedStates uint8

// Supported state bits (SPC-4 §6.36.2, Table 283).
const (
	SupportsActiveOptimized    SupportedStates = 0x01 // AO_SUP
	SupportsActiveNonOptimized SupportedStates = 0x02 // AN_SUP
	SupportsStandby            SupportedStates = 0x04 // S_SUP
	SupportsUnavailable        SupportedStates = 0x08 // U_SUP
	SupportsLBADependent       SupportedStates = 0x10 // LBD_SUP
	SupportsOffline            SupportedStates = 0x40 // O_SUP
	SupportsTransitioning      SupportedStates = 0x80 // T_SUP
)

var stateBits = map[AccessState]SupportedStates{
	StateActiveOptimized: SupportsActiveOptimized, StateActiveNonOptimized: SupportsActiveNonOptimized,
	StateStandby: SupportsStandby, StateUnavailable: SupportsUnavailable,
	StateLBADependent: SupportsLBADependent, StateOffline: SupportsOffline,
	StateTransitioning: SupportsTransitioning,
}

// Has reports whether state a is among the supported states.
func (s SupportedStates) Has(a AccessState) bool {
	bit, ok := stateBits[a]
	return ok && s&bit != 0
}

// String returns the names of the set bits (T, O, LBD, U, S, AN, AO) joined
// by "|", unknown bits in hex, or "0" when none is set.
func (s SupportedStates) String() string {
	return flagString(uint8(s), []flagName{{0x80, "T"}, {0x40, "O"}, {0x10, "LBD"},
		{0x08, "U"}, {0x04, "S"}, {0x02, "AN"}, {0x01, "AO"}})
}

// PortGroupStatus is the STATUS CODE of a target port group descriptor.
type PortGroupStatus uint8

// Status codes (SPC-4 §6.36.2, Table 284).
const (
	PortGroupNoStatus          PortGroupStatus = 0x00
	PortGroupAlteredBySTPG     PortGroupStatus = 0x01 // by SET TARGET PORT GROUPS
	PortGroupAlteredByImplicit PortGroupStatus = 0x02 // by implicit ALUA behaviour
)

var portGroupStatusNames = map[PortGroupStatus]string{
	PortGroupNoStatus:          "no status",
	PortGroupAlteredBySTPG:     "altered by SET TARGET PORT GROUPS",
	PortGroupAlteredByImplicit: "altered by implicit asymmetric logical unit access",
}

// String returns the name of the value, or "PortGroupStatus(0xNN)" for an
// unknown value.
func (s PortGroupStatus) String() string {
	return enumString(portGroupStatusNames, s, "PortGroupStatus")
}

// PortGroup is one target port group descriptor (SPC-4 §6.36.2).
type PortGroup struct {
	Preferred      bool // PREF: a preferred group for I/O
	State          AccessState
	Supported      SupportedStates
	ID             uint16 // TARGET PORT GROUP
	Status         PortGroupStatus
	VendorSpecific uint8
	Ports          []uint16 // RELATIVE TARGET PORT IDENTIFIERs
}

// TargetPortGroups is REPORT TARGET PORT GROUPS parameter data.
type TargetPortGroups struct {
	// Extended is set when the device answered in the extended header
	// format; only then is TransitionTime meaningful.
	Extended bool
	// TransitionTime is the IMPLICIT TRANSITION TIME in seconds, 0 when
	// unspecified.
	TransitionTime uint8
	Groups         []PortGroup
}

const rtpgWhat = "REPORT TARGET PORT GROUPS parameter data"

// ParseTargetPortGroups decodes REPORT TARGET PORT GROUPS parameter data in
// either format (SPC-4 §6.36.2): the extended one is recognised by FORMAT
// TYPE 001b in byte 4, as the Linux ALUA handler does. When RETURN DATA
// LENGTH asks for more than b holds, the *TruncatedError's Need is the
// allocation length to retry with; a descriptor overrunning the data is a
// *FieldError.
func ParseTargetPortGroups(b []byte) (TargetPortGroups, error) {
	if err := truncated(rtpgWhat, b, 4); err != nil {
		return TargetPortGroups{}, err
	}
	body, err := lengthPrefixed(rtpgWhat, b, 4, uint64(be.Uint32(b))) // RETURN DATA LENGTH
	if err != nil {
		return TargetPortGroups{}, err
	}
	var t TargetPortGroups
	off := 4 // offset of body in b, for error reports
	if len(body) >= 4 && body[0]>>4&7 == 1 {
		t.Extended, t.TransitionTime = true, body[1]
		body, off = body[4:], 8
	}
	for len(body) > 0 {
		g, n, err := parsePortGroup(body, off)
		if err != nil {
			return TargetPortGroups{}, err
		}
		t.Groups = append(t.Groups, g)
		body, off = body[n:], off+n
	}
	return t, nil
}

// parsePortGroup decodes the descriptor at the start of d, found at byte
// off of the parameter data, and returns its length.
func parsePortGroup(d []byte, off int) (PortGroup, int, error) {
	if len(d) < 8 {
		return PortGroup{}, 0, &FieldError{What: rtpgWhat, Field: "target port group descriptor",
			Offset: off, Value: uint64(len(d)), Reason: "header overruns the data"}
	}
	count := int(d[7]) // TARGET PORT COUNT
	n := 8 + 4*count
	if n > len(d) {
		return PortGroup{}, 0, &FieldError{What: rtpgWhat, Field: "TARGET PORT COUNT",
			Offset: off + 7, Value: uint64(count), Reason: "overruns the data"}
	}
	g := PortGroup{
		Preferred:      d[0]&0x80 != 0,
		State:          AccessState(d[0] & 0x0F),
		Supported:      SupportedStates(d[1]),
		ID:             be.Uint16(d[2:]),
		Status:         PortGroupStatus(d[5]),
		VendorSpecific: d[6],
		Ports:          make([]uint16, count),
	}
	for i := range g.Ports {
		g.Ports[i] = be.Uint16(d[8+4*i+2:]) // 2 bytes obsolete, then the ID
	}
	return g, n, nil
}

// AppendBinary appends t as REPORT TARGET PORT GROUPS parameter data, for
// tests and fake targets. A group with more than 255 ports is a
// *LimitError.
func (t TargetPortGroups) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // RETURN DATA LENGTH, patched below
	if t.Extended {
		b = append(b, 0x10, t.TransitionTime, 0, 0) // FORMAT TYPE 001b
	}
	for _, g := range t.Groups {
		if len(g.Ports) > 0xFF {
			return b[:start], &LimitError{What: rtpgWhat, Field: "TARGET PORT COUNT",
				Value: uint64(len(g.Ports)), Limit: 0xFF}
		}
		b = append(b, flagIf(g.Preferred, 0x80)|byte(g.State)&0x0F, byte(g.Supported))
		b = be.AppendUint16(b, g.ID)
		b = append(b, 0, byte(g.Status), g.VendorSpecific, byte(len(g.Ports)))
		for _, p := range g.Ports {
			b = append(b, 0, 0)
			b = be.AppendUint16(b, p)
		}
	}
	be.PutUint32(b[start:], uint32(len(b)-start-4))
	return b, nil
}
