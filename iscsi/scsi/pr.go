package scsi

import (
	"bytes"
	"fmt"
)

// Persistent reservations (SPC-4 §5.12): a registration is made per I_T
// nexus with PERSISTENT RESERVE OUT (§6.14) and read back with PERSISTENT
// RESERVE IN (§6.13). Keys are 8-byte values, written here as uint64.

// PRInAction is the SERVICE ACTION of PERSISTENT RESERVE IN (SPC-4 §6.13.1,
// Table 164).
type PRInAction uint8

// PERSISTENT RESERVE IN service actions.
const (
	PRInReadKeys            PRInAction = 0x00 // §6.13.2
	PRInReadReservation     PRInAction = 0x01 // §6.13.3
	PRInReportCapabilities  PRInAction = 0x02 // §6.13.4
	PRInReadFullStatus      PRInAction = 0x03 // §6.13.5
	prInActionMask          byte       = 0x1F
	prTypeMask, prScopeMask byte       = 0x0F, 0xF0
)

var prInNames = map[PRInAction]string{
	PRInReadKeys: "READ KEYS", PRInReadReservation: "READ RESERVATION",
	PRInReportCapabilities: "REPORT CAPABILITIES", PRInReadFullStatus: "READ FULL STATUS",
}

// String returns the name of the value, or "PRInAction(0xNN)".
func (a PRInAction) String() string { return enumString(prInNames, a, "PRInAction") }

// PROutAction is the SERVICE ACTION of PERSISTENT RESERVE OUT (SPC-4
// §6.14.2, Table 175).
type PROutAction uint8

// PERSISTENT RESERVE OUT service actions.
const (
	PROutRegister            PROutAction = 0x00 // §5.12.7
	PROutReserve             PROutAction = 0x01 // §5.12.9
	PROutRelease             PROutAction = 0x02 // §5.12.11.2
	PROutClear               PROutAction = 0x03 // §5.12.11.6
	PROutPreempt             PROutAction = 0x04 // §5.12.11.4
	PROutPreemptAndAbort     PROutAction = 0x05 // §5.12.11.5
	PROutRegisterIgnore      PROutAction = 0x06 // REGISTER AND IGNORE EXISTING KEY, §5.12.7
	PROutRegisterAndMove     PROutAction = 0x07 // §5.12.8 (named only)
	PROutReplaceLostReserved PROutAction = 0x08 // §5.12.12 (named only)
)

var prOutNames = map[PROutAction]string{
	PROutRegister: "REGISTER", PROutReserve: "RESERVE", PROutRelease: "RELEASE", PROutClear: "CLEAR",
	PROutPreempt: "PREEMPT", PROutPreemptAndAbort: "PREEMPT AND ABORT",
	PROutRegisterIgnore: "REGISTER AND IGNORE EXISTING KEY", PROutRegisterAndMove: "REGISTER AND MOVE",
	PROutReplaceLostReserved: "REPLACE LOST RESERVATION",
}

// String returns the name of the value, or "PROutAction(0xNN)".
func (a PROutAction) String() string { return enumString(prOutNames, a, "PROutAction") }

// PRType is a persistent reservation TYPE (SPC-4 §6.13.3.4, Table 167).
type PRType uint8

// Reservation types.
const (
	PRWriteExclusive                 PRType = 0x1
	PRExclusiveAccess                PRType = 0x3
	PRWriteExclusiveRegistrantsOnly  PRType = 0x5
	PRExclusiveAccessRegistrantsOnly PRType = 0x6
	PRWriteExclusiveAllRegistrants   PRType = 0x7
	PRExclusiveAccessAllRegistrants  PRType = 0x8
)

// Names as sg_persist and mpathpersist print them.
var prTypeNames = map[PRType]string{
	PRWriteExclusive: "Write Exclusive", PRExclusiveAccess: "Exclusive Access",
	PRWriteExclusiveRegistrantsOnly:  "Write Exclusive, registrants only",
	PRExclusiveAccessRegistrantsOnly: "Exclusive Access, registrants only",
	PRWriteExclusiveAllRegistrants:   "Write Exclusive, all registrants",
	PRExclusiveAccessAllRegistrants:  "Exclusive Access, all registrants",
}

// String returns the name of the value, or "PRType(0xNN)".
func (t PRType) String() string { return enumString(prTypeNames, t, "PRType") }

// Valid reports whether t is one of the six types SPC-4 defines.
func (t PRType) Valid() bool { _, ok := prTypeNames[t]; return ok }

// PRScope is a reservation SCOPE (SPC-4 §6.13.3.3); only LU_SCOPE (0) is
// defined.
type PRScope uint8

// PRScopeLU: the reservation applies to the whole logical unit.
const PRScopeLU PRScope = 0x0

// String returns "LU_SCOPE", or "PRScope(0xNN)".
func (s PRScope) String() string {
	return enumString(map[PRScope]string{PRScopeLU: "LU_SCOPE"}, s, "PRScope")
}

// PersistentReserveIn returns a PERSISTENT RESERVE IN CDB (SPC-4 §6.13.1).
func PersistentReserveIn(a PRInAction, allocLen uint16) [10]byte {
	var c [10]byte
	c[0] = byte(OpPersistentReserveIn)
	c[1] = byte(a) & prInActionMask
	be.PutUint16(c[7:], allocLen) // ALLOCATION LENGTH
	return c
}

// PROutParameterLength is the length of the basic PERSISTENT RESERVE OUT
// parameter list (SPC-4 §6.14.3) that PROutParameters encodes.
const PROutParameterLength = 24

// PersistentReserveOut returns a PERSISTENT RESERVE OUT CDB (SPC-4 §6.14.1)
// with LU_SCOPE and type t (ignored by the target for REGISTER, CLEAR and
// REGISTER AND IGNORE EXISTING KEY; pass 0), announcing a basic parameter
// list of PROutParameterLength bytes.
func PersistentReserveOut(a PROutAction, t PRType) [10]byte {
	var c [10]byte
	c[0] = byte(OpPersistentReserveOut)
	c[1] = byte(a) & prInActionMask
	c[2] = byte(PRScopeLU)<<4 | byte(t)&prTypeMask // SCOPE, TYPE
	be.PutUint32(c[5:], PROutParameterLength)      // PARAMETER LIST LENGTH
	return c
}

// PROutParameters is the basic PERSISTENT RESERVE OUT parameter list
// (SPC-4 §6.14.3). SPEC_I_PT is not supported.
type PROutParameters struct {
	Key              uint64 // RESERVATION KEY: the key this I_T nexus registered, 0 if none
	ServiceActionKey uint64 // SERVICE ACTION RESERVATION KEY: new key, or the key to preempt
	AllTargetPorts   bool   // ALL_TG_PT: register through every target port at once
	APTPL            bool   // activate persist through power loss
}

const prOutWhat = "PERSISTENT RESERVE OUT parameter list"

// AppendBinary appends the 24-byte parameter list.
func (p PROutParameters) AppendBinary(b []byte) ([]byte, error) {
	b = be.AppendUint64(b, p.Key)
	b = be.AppendUint64(b, p.ServiceActionKey)
	b = append(b, 0, 0, 0, 0) // obsolete (SCOPE-SPECIFIC ADDRESS)
	b = append(b, flagIf(p.AllTargetPorts, 0x04)|flagIf(p.APTPL, 0x01), 0, 0, 0)
	return b, nil
}

// ParsePROutParameters decodes a basic parameter list, for fake targets.
// SPEC_I_PT set is a *FieldError: the list would carry TransportIDs.
func ParsePROutParameters(b []byte) (PROutParameters, error) {
	if err := truncated(prOutWhat, b, PROutParameterLength); err != nil {
		return PROutParameters{}, err
	}
	if b[20]&0x08 != 0 {
		return PROutParameters{}, &FieldError{What: prOutWhat, Field: "SPEC_I_PT", Offset: 20,
			Value: 1, Reason: "not supported"}
	}
	return PROutParameters{Key: be.Uint64(b), ServiceActionKey: be.Uint64(b[8:]),
		AllTargetPorts: b[20]&0x04 != 0, APTPL: b[20]&0x01 != 0}, nil
}

// prInBody returns the PRGENERATION and the ADDITIONAL LENGTH bytes that
// follow the 8-byte header shared by READ KEYS, READ RESERVATION and READ
// FULL STATUS.
func prInBody(what string, b []byte) (uint32, []byte, error) {
	if err := truncated(what, b, 8); err != nil {
		return 0, nil, err
	}
	body, err := lengthPrefixed(what, b, 8, uint64(be.Uint32(b[4:]))) // ADDITIONAL LENGTH
	return be.Uint32(b), body, err
}

// ReservationKeys is READ KEYS parameter data (SPC-4 §6.13.2): one key per
// registered I_T nexus, so a key registered through two paths appears
// twice.
type ReservationKeys struct {
	Generation uint32 // PRGENERATION
	Keys       []uint64
}

const readKeysWhat = "READ KEYS parameter data"

// ParseReadKeys decodes READ KEYS parameter data. When ADDITIONAL LENGTH
// asks for more than b holds, the *TruncatedError's Need is the allocation
// length to retry with; a length that is not a multiple of 8 is a
// *FieldError.
func ParseReadKeys(b []byte) (ReservationKeys, error) {
	gen, body, err := prInBody(readKeysWhat, b)
	if err != nil {
		return ReservationKeys{}, err
	}
	if len(body)%8 != 0 {
		return ReservationKeys{}, &FieldError{What: readKeysWhat, Field: "ADDITIONAL LENGTH", Offset: 4,
			Value: uint64(len(body)), Reason: "not a multiple of 8"}
	}
	k := ReservationKeys{Generation: gen}
	for ; len(body) > 0; body = body[8:] {
		k.Keys = append(k.Keys, be.Uint64(body))
	}
	return k, nil
}

// AppendBinary appends k as READ KEYS parameter data.
func (k ReservationKeys) AppendBinary(b []byte) ([]byte, error) {
	if len(k.Keys) > 0x1FFFFFFF {
		return b, &LimitError{What: readKeysWhat, Field: "ADDITIONAL LENGTH", Value: uint64(len(k.Keys)) * 8,
			Limit: 0xFFFFFFF8}
	}
	b = be.AppendUint32(b, k.Generation)
	b = be.AppendUint32(b, uint32(8*len(k.Keys)))
	for _, key := range k.Keys {
		b = be.AppendUint64(b, key)
	}
	return b, nil
}

// Reservation is READ RESERVATION parameter data (SPC-4 §6.13.3).
type Reservation struct {
	Generation uint32 // PRGENERATION
	Held       bool   // a reservation exists; the fields below are valid
	Key        uint64 // the holder's key (0 for the all-registrants types)
	Scope      PRScope
	Type       PRType
}

const readResvWhat = "READ RESERVATION parameter data"

// ParseReadReservation decodes READ RESERVATION parameter data: ADDITIONAL
// LENGTH 0 (no reservation) or 16 (one), anything else a *FieldError.
func ParseReadReservation(b []byte) (Reservation, error) {
	gen, body, err := prInBody(readResvWhat, b)
	if err != nil {
		return Reservation{}, err
	}
	r := Reservation{Generation: gen}
	switch len(body) {
	case 0:
		return r, nil
	case 16:
		r.Held, r.Key = true, be.Uint64(body)
		r.Scope, r.Type = PRScope(body[13]>>4), PRType(body[13]&prTypeMask) // byte 21: SCOPE, TYPE
		return r, nil
	}
	return Reservation{}, &FieldError{What: readResvWhat, Field: "ADDITIONAL LENGTH", Offset: 4,
		Value: uint64(len(body)), Reason: "want 0 or 16"}
}

// AppendBinary appends r as READ RESERVATION parameter data.
func (r Reservation) AppendBinary(b []byte) ([]byte, error) {
	b = be.AppendUint32(b, r.Generation)
	if !r.Held {
		return be.AppendUint32(b, 0), nil
	}
	b = be.AppendUint32(b, 16)
	b = be.AppendUint64(b, r.Key)
	b = append(b, 0, 0, 0, 0, 0) // obsolete, reserved
	b = append(b, byte(r.Scope)<<4|byte(r.Type)&prTypeMask, 0, 0)
	return b, nil
}

// PRTypeMask is the PERSISTENT RESERVATION TYPE MASK of REPORT
// CAPABILITIES (SPC-4 §6.13.4, Table 171), bytes 4 and 5 as one value.
type PRTypeMask uint16

var prMaskBits = map[PRType]PRTypeMask{
	PRWriteExclusiveAllRegistrants: 0x8000, PRExclusiveAccessRegistrantsOnly: 0x4000,
	PRWriteExclusiveRegistrantsOnly: 0x2000, PRExclusiveAccess: 0x0800, PRWriteExclusive: 0x0200,
	PRExclusiveAccessAllRegistrants: 0x0001,
}

// Has reports whether the mask says the device supports type t.
func (m PRTypeMask) Has(t PRType) bool { bit, ok := prMaskBits[t]; return ok && m&bit != 0 }

// PRTypeMaskOf returns the mask with the bits of types set.
func PRTypeMaskOf(types ...PRType) PRTypeMask {
	var m PRTypeMask
	for _, t := range types {
		m |= prMaskBits[t]
	}
	return m
}

// PRCapabilities is REPORT CAPABILITIES parameter data (SPC-4 §6.13.4).
type PRCapabilities struct {
	ReplaceLostReservation  bool  // RLR_C
	CompatibleReservation   bool  // CRH
	SpecifyInitiatorPorts   bool  // SIP_C
	AllTargetPorts          bool  // ATP_C
	PersistThroughPowerLoss bool  // PTPL_C: APTPL may be set
	TypeMaskValid           bool  // TMV
	AllowCommands           uint8 // ALLOW COMMANDS, 3 bits
	PTPLActive              bool  // PTPL_A
	Types                   PRTypeMask
}

const reportCapsWhat = "REPORT CAPABILITIES parameter data"

// ParseReportCapabilities decodes REPORT CAPABILITIES parameter data; a
// LENGTH other than 8 is a *FieldError.
func ParseReportCapabilities(b []byte) (PRCapabilities, error) {
	if err := truncated(reportCapsWhat, b, 8); err != nil {
		return PRCapabilities{}, err
	}
	if n := be.Uint16(b); n != 8 {
		return PRCapabilities{}, &FieldError{What: reportCapsWhat, Field: "LENGTH", Offset: 0,
			Value: uint64(n), Reason: "want 8"}
	}
	return PRCapabilities{
		ReplaceLostReservation: b[2]&0x80 != 0, CompatibleReservation: b[2]&0x10 != 0,
		SpecifyInitiatorPorts: b[2]&0x08 != 0, AllTargetPorts: b[2]&0x04 != 0,
		PersistThroughPowerLoss: b[2]&0x01 != 0, TypeMaskValid: b[3]&0x80 != 0,
		AllowCommands: b[3] >> 4 & 7, PTPLActive: b[3]&0x01 != 0, Types: PRTypeMask(be.Uint16(b[4:])),
	}, nil
}

// AppendBinary appends c as REPORT CAPABILITIES parameter data. Bits of
// the mask that SPC-4 reserves are dropped.
func (c PRCapabilities) AppendBinary(b []byte) ([]byte, error) {
	b = be.AppendUint16(b, 8)
	b = append(b, flagIf(c.ReplaceLostReservation, 0x80)|flagIf(c.CompatibleReservation, 0x10)|
		flagIf(c.SpecifyInitiatorPorts, 0x08)|flagIf(c.AllTargetPorts, 0x04)|flagIf(c.PersistThroughPowerLoss, 0x01),
		flagIf(c.TypeMaskValid, 0x80)|(c.AllowCommands&7)<<4|flagIf(c.PTPLActive, 0x01))
	b = be.AppendUint16(b, uint16(c.Types))
	return append(b, 0, 0), nil
}

// PRRegistration is one full status descriptor (SPC-4 §6.13.5.2): a
// registered I_T nexus.
type PRRegistration struct {
	Key                uint64
	AllTargetPorts     bool // ALL_TG_PT
	Holder             bool // R_HOLDER: holds the reservation; Scope and Type valid
	Scope              PRScope
	Type               PRType
	RelativeTargetPort uint16 // RELATIVE TARGET PORT IDENTIFIER
	TransportID        []byte // the initiator port's TransportID (SPC-4 §7.6.4)
}

// ISCSIInitiator decodes an iSCSI TransportID (SPC-4 §7.6.4.6, PROTOCOL
// IDENTIFIER 5): the iSCSI name, with ",i,0x" and the ISID in format 01b.
func (r PRRegistration) ISCSIInitiator() (string, bool) {
	t := r.TransportID
	if len(t) < 4 || t[0]&0x0F != 5 {
		return "", false
	}
	n := int(be.Uint16(t[2:]))
	if n > len(t)-4 {
		return "", false
	}
	name, _, _ := bytes.Cut(t[4:4+n], []byte{0})
	return string(name), true
}

// ISCSITransportID returns the TransportID of an iSCSI initiator port:
// format 01b (name ",i,0x" ISID) when isid is not empty, else format 00b;
// NUL terminated and padded to a multiple of 4 (SPC-4 §7.6.4.6).
func ISCSITransportID(name, isid string) []byte {
	s, f := name, byte(0x05)
	if isid != "" {
		s, f = fmt.Sprintf("%s,i,0x%s", name, isid), 0x45
	}
	n := (len(s) + 1 + 3) &^ 3
	t := make([]byte, 4+n)
	t[0] = f
	be.PutUint16(t[2:], uint16(n))
	copy(t[4:], s)
	return t
}

// PRFullStatus is READ FULL STATUS parameter data (SPC-4 §6.13.5).
type PRFullStatus struct {
	Generation    uint32 // PRGENERATION
	Registrations []PRRegistration
}

const fullStatusWhat = "READ FULL STATUS parameter data"

// ParseReadFullStatus decodes READ FULL STATUS parameter data. A
// descriptor overrunning the data is a *FieldError; TransportIDs are
// copied out of b.
func ParseReadFullStatus(b []byte) (PRFullStatus, error) {
	gen, body, err := prInBody(fullStatusWhat, b)
	if err != nil {
		return PRFullStatus{}, err
	}
	s := PRFullStatus{Generation: gen}
	for off := 8; len(body) > 0; {
		if len(body) < 24 {
			return PRFullStatus{}, &FieldError{What: fullStatusWhat, Field: "full status descriptor",
				Offset: off, Value: uint64(len(body)), Reason: "header overruns the data"}
		}
		n := uint64(be.Uint32(body[20:])) // ADDITIONAL DESCRIPTOR LENGTH
		if n > uint64(len(body)-24) {
			return PRFullStatus{}, &FieldError{What: fullStatusWhat, Field: "ADDITIONAL DESCRIPTOR LENGTH",
				Offset: off + 20, Value: n, Reason: "overruns the data"}
		}
		s.Registrations = append(s.Registrations, PRRegistration{Key: be.Uint64(body),
			AllTargetPorts: body[12]&0x02 != 0, Holder: body[12]&0x01 != 0,
			Scope: PRScope(body[13] >> 4), Type: PRType(body[13] & prTypeMask),
			RelativeTargetPort: be.Uint16(body[18:]), TransportID: bytes.Clone(body[24 : 24+n])})
		body, off = body[24+n:], off+24+int(n)
	}
	return s, nil
}

// AppendBinary appends s as READ FULL STATUS parameter data.
func (s PRFullStatus) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = be.AppendUint32(b, s.Generation)
	b = append(b, 0, 0, 0, 0) // ADDITIONAL LENGTH, patched below
	for _, r := range s.Registrations {
		b = be.AppendUint64(b, r.Key)
		b = append(b, 0, 0, 0, 0, flagIf(r.AllTargetPorts, 0x02)|flagIf(r.Holder, 0x01),
			byte(r.Scope)<<4|byte(r.Type)&prTypeMask, 0, 0, 0, 0)
		b = be.AppendUint16(b, r.RelativeTargetPort)
		b = be.AppendUint32(b, uint32(len(r.TransportID)))
		b = append(b, r.TransportID...)
	}
	n := len(b) - start - 8
	if uint64(n) > 0xFFFFFFFF {
		return b[:start], &LimitError{What: fullStatusWhat, Field: "ADDITIONAL LENGTH", Value: uint64(n),
			Limit: 0xFFFFFFFF}
	}
	be.PutUint32(b[start+4:], uint32(n))
	return b, nil
}

// OpPersistentReserveOut is PERSISTENT RESERVE OUT (SPC-4 §6.14).
const OpPersistentReserveOut Opcode = 0x5F
