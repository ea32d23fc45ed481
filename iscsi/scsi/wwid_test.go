package scsi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Designators for the priority table, all associated with the LU.
var (
	dNAA6  = Designator{Type: DesigNAA, ID: []byte{0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xAB}}
	dNAA5  = Designator{Type: DesigNAA, ID: []byte{0x50, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12}}
	dNAA5b = Designator{Type: DesigNAA, ID: []byte{0x5F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}
	dNAA2  = Designator{Type: DesigNAA, ID: []byte{0x20, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}
	dNAA3  = Designator{Type: DesigNAA, ID: []byte{0x30, 0, 0, 1, 0, 0, 0, 1}}
	dEUI   = Designator{Type: DesigEUI64, ID: []byte{0x00, 0x14, 0x05, 0xAB, 0xCD, 0xEF, 0x01, 0x23}}
	dIQN   = Designator{Type: DesigSCSIName, CodeSet: CodeSetUTF8, ID: pad("iqn.2001-04.com.Example:Disk", 32, 0)}
	dT10   = Designator{Type: DesigT10VendorID, CodeSet: CodeSetASCII, ID: []byte("ACME    Widget  42")}
)

func with(d Designator, f func(*Designator)) Designator {
	d.ID = append([]byte{}, d.ID...)
	f(&d)
	return d
}

func TestWWIDPriority(t *testing.T) {
	tests := []struct {
		name string
		ds   []Designator
		want string // "" means no WWID
	}{
		{"empty", nil, ""},
		{"NAA 6 beats all", []Designator{dT10, dNAA3, dIQN, dEUI, dNAA2, dNAA5, dNAA6}, "360010203040506070809" + "0a0b0c0d0eab"},
		{"NAA 5 beats NAA 2", []Designator{dNAA2, dNAA5}, "35001405abcdef012"},
		{"NAA 2 beats EUI-64", []Designator{dEUI, dNAA2}, "32000001122334455"},
		{"EUI-64 beats SCSI name", []Designator{dIQN, dEUI}, "2001405abcdef0123"},
		{"SCSI name beats T10", []Designator{dT10, dIQN}, "82001-04.com.Example:Disk"},
		{"T10 beats NAA 3", []Designator{dNAA3, dT10}, "1ACME_Widget_42"},
		{"NAA 3 alone", []Designator{dNAA3}, "33000000100000001"},
		{"first of equals wins", []Designator{dNAA5b, dNAA5}, "35fffffffffffffff"},
		{"target port association ignored", []Designator{
			with(dNAA6, func(d *Designator) { d.Association = AssocTargetPort }), dNAA3}, "33000000100000001"},
		{"target device association ignored", []Designator{
			with(dNAA6, func(d *Designator) { d.Association = AssocTargetDevice })}, ""},
		{"reserved association ignored", []Designator{
			with(dNAA6, func(d *Designator) { d.Association = 3 })}, ""},
		{"NAA 6 of 8 bytes invalid", []Designator{
			with(dNAA6, func(d *Designator) { d.ID = d.ID[:8] }), dNAA3}, "33000000100000001"},
		{"NAA 5 of 16 bytes invalid", []Designator{
			with(dNAA5, func(d *Designator) { d.ID = append(d.ID, d.ID...) })}, ""},
		{"NAA 1 never chosen", []Designator{{Type: DesigNAA, ID: []byte{0x10, 0, 0, 0, 0, 0, 0, 1}}}, ""},
		{"empty NAA", []Designator{{Type: DesigNAA}}, ""},
		{"EUI-64 12 bytes", []Designator{{Type: DesigEUI64, ID: make([]byte, 12)}}, "2" + strings.Repeat("00", 12)},
		{"EUI-64 16 bytes", []Designator{{Type: DesigEUI64, ID: make([]byte, 16)}}, "2" + strings.Repeat("00", 16)},
		{"EUI-64 10 bytes invalid", []Designator{{Type: DesigEUI64, ID: make([]byte, 10)}}, ""},
		{"SCSI name naa. lowercased", []Designator{{Type: DesigSCSIName, ID: pad("naa.6001405ABCDEF012", 20, 0)}}, "36001405abcdef012"},
		{"SCSI name eui. lowercased", []Designator{{Type: DesigSCSIName, ID: []byte("eui.0014ABCD")}}, "20014abcd"},
		{"SCSI name iqn keeps case", []Designator{dIQN}, "82001-04.com.Example:Disk"},
		{"SCSI name other prefix", []Designator{{Type: DesigSCSIName, ID: []byte("wwn.1234")}}, ""},
		{"SCSI name prefix is case sensitive", []Designator{{Type: DesigSCSIName, ID: []byte("IQN.2001-04.x")}}, ""},
		{"SCSI name prefix only", []Designator{{Type: DesigSCSIName, ID: []byte("iqn.")}}, "8"},
		{"T10 under 8 bytes invalid", []Designator{{Type: DesigT10VendorID, ID: []byte("ACME")}}, ""},
		{"T10 tgt", []Designator{{Type: DesigT10VendorID, ID: pad("IET     00010001", 36, 0)}}, "1IET_00010001"},
		{"T10 leading spaces", []Designator{{Type: DesigT10VendorID, ID: []byte("  ACME  X")}}, "1_ACME_X"},
		{"T10 trailing spaces dropped", []Designator{{Type: DesigT10VendorID, ID: []byte("ACME X   ")}}, "1ACME_X"},
		{"T10 spaces before NULs", []Designator{{Type: DesigT10VendorID, ID: []byte("ACME X  \x00\x00")}}, "1ACME_X_"},
		{"T10 NUL cuts", []Designator{{Type: DesigT10VendorID, ID: []byte("ACME\x00XYZ ABC")}}, "1ACME"},
		{"vendor specific, UUID, MD5 never chosen", []Designator{
			{Type: DesigVendorSpecific, ID: []byte("12345678")},
			{Type: DesigUUID, ID: make([]byte, 18)},
			{Type: DesigMD5LogicalUnit, ID: make([]byte, 16)},
			{Type: DesigLogicalUnitGroup, ID: make([]byte, 4)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := WWID(tt.ds)
			require.Equal(t, tt.want != "", ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestWWIDLengthCaps: designators are cut to 128 bytes and WWIDs to 127
// characters, like multipath-tools' WWID_SIZE buffer.
func TestWWIDLengthCaps(t *testing.T) {
	long := strings.Repeat("A", 200)
	got, ok := WWID([]Designator{{Type: DesigT10VendorID, ID: []byte(long)}})
	require.True(t, ok)
	require.Equal(t, "1"+long[:126], got)

	got, ok = WWID([]Designator{{Type: DesigSCSIName, ID: []byte("iqn." + long)}})
	require.True(t, ok)
	require.Equal(t, "8"+long[:124], got, "128-byte designator minus the 4-byte prefix")

	// A space run that the 128-byte cut leaves at the end is dropped.
	id := []byte(strings.Repeat("B", 120) + "        CD")
	got, ok = WWID([]Designator{{Type: DesigT10VendorID, ID: id}})
	require.True(t, ok)
	require.Equal(t, "1"+strings.Repeat("B", 120), got)
}

// TestWWIDHostileDesignators: designators a hostile target could send
// (path climbing, a line break with an sd_notify assignment, a terminal
// escape, a bindings comment, non-ASCII, 255 bytes) give WWIDs of the
// safe-name alphabet only, with no "/" and no control byte.
func TestWWIDHostileDesignators(t *testing.T) {
	cases := []struct {
		typ  DesignatorType
		id   string
		want string
	}{
		{DesigT10VendorID, "GOMP    /../../../etc/cron.d/x\nMAINPID=1", "1GOMP__.._.._.._etc_cron.d_x_MAINPID=1"},
		{DesigT10VendorID, "EVIL    \x1b[2J\x07#x", "1EVIL___2J__x"},
		{DesigT10VendorID, "VENDOR  caf\xc3\xa9", "1VENDOR_caf__"},
		{DesigSCSIName, "iqn.x/../y\r\nSTOPPING=1", "8x_.._y__STOPPING=1"},
		{DesigSCSIName, "naa.ABC\x00hidden", "3abc"},
	}
	for _, c := range cases {
		got, ok := WWID([]Designator{{Type: c.typ, Association: AssocLogicalUnit, ID: []byte(c.id)}})
		require.True(t, ok, "%q", c.id)
		require.Equal(t, c.want, got, "%q", c.id)
	}
	long := make([]byte, 255)
	for i := range long {
		long[i] = byte(i)
	}
	copy(long, "T10VENDR")
	got, ok := WWID([]Designator{{Type: DesigT10VendorID, Association: AssocLogicalUnit, ID: long}})
	require.True(t, ok)
	require.LessOrEqual(t, len(got), 127)
	require.NotContains(t, got, "/")
	for _, c := range []byte(got) {
		require.True(t, c > 0x20 && c < 0x7f, "byte %#x in %q", c, got)
	}
}
