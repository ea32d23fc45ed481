package scsi

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCDBGolden(t *testing.T) {
	ff8 := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	tests := []struct {
		name string
		got  func() []byte
		want []byte
	}{
		{"INQUIRY standard", func() []byte { c := Inquiry(96); return c[:] }, []byte{
			0x12,       // OPERATION CODE
			0x00,       // EVPD 0
			0x00,       // PAGE CODE
			0x00, 0x60, // ALLOCATION LENGTH 96
			0x00, // CONTROL
		}},
		{"INQUIRY VPD 0x83", func() []byte { c := InquiryVPD(VPDDeviceIdentification, 0x1000); return c[:] }, []byte{
			0x12,       // OPERATION CODE
			0x01,       // EVPD 1
			0x83,       // PAGE CODE
			0x10, 0x00, // ALLOCATION LENGTH 4096
			0x00, // CONTROL
		}},
		{"TEST UNIT READY", func() []byte { c := TestUnitReady(); return c[:] }, []byte{
			0x00,                   // OPERATION CODE
			0x00, 0x00, 0x00, 0x00, // reserved
			0x00, // CONTROL
		}},
		{"READ CAPACITY(16)", func() []byte { c := ReadCapacity16(32); return c[:] }, []byte{
			0x9E,                                           // SERVICE ACTION IN(16)
			0x10,                                           // SERVICE ACTION: READ CAPACITY(16)
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LBA (obsolete)
			0x00, 0x00, 0x00, 0x20, // ALLOCATION LENGTH 32
			0x00, // PMI (obsolete)
			0x00, // CONTROL
		}},
		{"READ(10) FUA", func() []byte { c := Read10(0x12345678, 0x0100, true); return c[:] }, []byte{
			0x28,                   // OPERATION CODE
			0x08,                   // FUA
			0x12, 0x34, 0x56, 0x78, // LOGICAL BLOCK ADDRESS
			0x00,       // GROUP NUMBER
			0x01, 0x00, // TRANSFER LENGTH 256
			0x00, // CONTROL
		}},
		{"WRITE(10)", func() []byte { c := Write10(1, 8, false); return c[:] }, []byte{
			0x2A,                   // OPERATION CODE
			0x00,                   // no FUA
			0x00, 0x00, 0x00, 0x01, // LOGICAL BLOCK ADDRESS
			0x00,       // GROUP NUMBER
			0x00, 0x08, // TRANSFER LENGTH
			0x00, // CONTROL
		}},
		{"READ(16)", func() []byte { c := Read16(0x0102030405060708, 0x80, false); return c[:] }, []byte{
			0x88,                                           // OPERATION CODE
			0x00,                                           // no FUA
			0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // LOGICAL BLOCK ADDRESS
			0x00, 0x00, 0x00, 0x80, // TRANSFER LENGTH 128
			0x00, // GROUP NUMBER
			0x00, // CONTROL
		}},
		{"WRITE(16) FUA, maximal", func() []byte { c := Write16(math.MaxUint64, math.MaxUint32, true); return c[:] }, cat(
			[]byte{0x8A, 0x08}, // OPERATION CODE, FUA
			ff8,                // LOGICAL BLOCK ADDRESS
			ff8[:4],            // TRANSFER LENGTH
			[]byte{0x00, 0x00}, // GROUP NUMBER, CONTROL
		)},
		{"SYNCHRONIZE CACHE(16) all", func() []byte { c := SynchronizeCache16(0, 0, false); return c[:] }, []byte{
			0x91,                                           // OPERATION CODE
			0x00,                                           // IMMED 0
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LOGICAL BLOCK ADDRESS
			0x00, 0x00, 0x00, 0x00, // NUMBER OF LOGICAL BLOCKS: to the end
			0x00, // GROUP NUMBER
			0x00, // CONTROL
		}},
		{"SYNCHRONIZE CACHE(16) IMMED range", func() []byte { c := SynchronizeCache16(0x10, 0x20, true); return c[:] }, []byte{
			0x91,                                           // OPERATION CODE
			0x02,                                           // IMMED
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, // LOGICAL BLOCK ADDRESS
			0x00, 0x00, 0x00, 0x20, // NUMBER OF LOGICAL BLOCKS
			0x00, // GROUP NUMBER
			0x00, // CONTROL
		}},
		{"UNMAP", func() []byte { c := Unmap(24, false); return c[:] }, []byte{
			0x42,                         // OPERATION CODE
			0x00,                         // ANCHOR 0
			0x00, 0x00, 0x00, 0x00, 0x00, // reserved, GROUP NUMBER
			0x00, 0x18, // PARAMETER LIST LENGTH 24
			0x00, // CONTROL
		}},
		{"UNMAP ANCHOR", func() []byte { c := Unmap(0xFFF8, true); return c[:] }, []byte{
			0x42,                         // OPERATION CODE
			0x01,                         // ANCHOR
			0x00, 0x00, 0x00, 0x00, 0x00, // reserved, GROUP NUMBER
			0xFF, 0xF8, // PARAMETER LIST LENGTH
			0x00, // CONTROL
		}},
		{"WRITE SAME(16) UNMAP NDOB", func() []byte { c := WriteSame16(0x1000, 0x800, WriteSameUnmap|WriteSameNDOB); return c[:] }, []byte{
			0x93,                                           // OPERATION CODE
			0x09,                                           // UNMAP, NDOB
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, // LOGICAL BLOCK ADDRESS
			0x00, 0x00, 0x08, 0x00, // NUMBER OF LOGICAL BLOCKS
			0x00, // GROUP NUMBER
			0x00, // CONTROL
		}},
		{"WRITE SAME(16) stray flag bits dropped", func() []byte { c := WriteSame16(0, 1, 0xFF); return c[:] }, []byte{
			0x93,                                           // OPERATION CODE
			0x19,                                           // ANCHOR, UNMAP, NDOB; WRPROTECT stays 0
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LOGICAL BLOCK ADDRESS
			0x00, 0x00, 0x00, 0x01, // NUMBER OF LOGICAL BLOCKS
			0x00, // GROUP NUMBER
			0x00, // CONTROL
		}},
		{"REPORT LUNS", func() []byte { c := ReportLUNs(SelectLogicalUnits, 4096); return c[:] }, []byte{
			0xA0,             // OPERATION CODE
			0x00,             // reserved
			0x00,             // SELECT REPORT 0
			0x00, 0x00, 0x00, // reserved
			0x00, 0x00, 0x10, 0x00, // ALLOCATION LENGTH 4096
			0x00, // reserved
			0x00, // CONTROL
		}},
		{"REPORT TARGET PORT GROUPS extended", func() []byte { c := ReportTargetPortGroups(1024, true); return c[:] }, []byte{
			0xA3,                   // MAINTENANCE IN
			0x2A,                   // PARAMETER DATA FORMAT 001b, SERVICE ACTION 0x0A
			0x00, 0x00, 0x00, 0x00, // reserved
			0x00, 0x00, 0x04, 0x00, // ALLOCATION LENGTH 1024
			0x00, // reserved
			0x00, // CONTROL
		}},
		{"REPORT TARGET PORT GROUPS length only", func() []byte { c := ReportTargetPortGroups(0x10000, false); return c[:] }, []byte{
			0xA3,                   // MAINTENANCE IN
			0x0A,                   // PARAMETER DATA FORMAT 000b, SERVICE ACTION 0x0A
			0x00, 0x00, 0x00, 0x00, // reserved
			0x00, 0x01, 0x00, 0x00, // ALLOCATION LENGTH 65536
			0x00, // reserved
			0x00, // CONTROL
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.got())
		})
	}
}

func TestAppendUnmapParameters(t *testing.T) {
	got, err := AppendUnmapParameters([]byte{0xEE}, []Extent{{LBA: 0x1000, Blocks: 0x800}, {LBA: math.MaxUint64, Blocks: 1}})
	require.NoError(t, err)
	require.Equal(t, []byte{
		0xEE,       // caller's prefix, kept
		0x00, 0x26, // UNMAP DATA LENGTH 38 = 6 + 2*16
		0x00, 0x20, // UNMAP BLOCK DESCRIPTOR DATA LENGTH 32
		0x00, 0x00, 0x00, 0x00, // reserved
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, // UNMAP LOGICAL BLOCK ADDRESS
		0x00, 0x00, 0x08, 0x00, // NUMBER OF LOGICAL BLOCKS
		0x00, 0x00, 0x00, 0x00, // reserved
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // UNMAP LOGICAL BLOCK ADDRESS
		0x00, 0x00, 0x00, 0x01, // NUMBER OF LOGICAL BLOCKS
		0x00, 0x00, 0x00, 0x00, // reserved
	}, got)

	empty, err := AppendUnmapParameters(nil, nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x00, 0x06, 0x00, 0x00, 0, 0, 0, 0}, empty)

	most, err := AppendUnmapParameters(nil, make([]Extent, MaxUnmapDescriptors))
	require.NoError(t, err)
	require.Len(t, most, 8+16*MaxUnmapDescriptors)
	require.LessOrEqual(t, len(most), 0xFFFF, "must fit UNMAP's PARAMETER LIST LENGTH")

	_, err = AppendUnmapParameters(nil, make([]Extent, MaxUnmapDescriptors+1))
	var le *LimitError
	require.ErrorAs(t, err, &le)
	require.True(t, errors.Is(err, ErrLimit))
	require.EqualValues(t, MaxUnmapDescriptors+1, le.Value)
}

func TestEnumStrings(t *testing.T) {
	require.Equal(t, "READ(16)", OpRead16.String())
	require.Equal(t, "MAINTENANCE IN", OpMaintenanceIn.String())
	require.Equal(t, "Opcode(0xff)", Opcode(0xFF).String())
	require.Equal(t, "ANCHOR|UNMAP|NDOB", WriteSameFlags(0x19).String())
	require.Equal(t, "UNMAP|0x02", WriteSameFlags(0x0A).String())
	require.Equal(t, "0", WriteSameFlags(0).String())
	require.Equal(t, "READ CAPACITY(16)", ServiceActionReadCapacity16.String())
	require.Equal(t, "logical units", SelectLogicalUnits.String())
	require.Equal(t, "IEEE Registered Extended", NAAIEEERegisteredExtended.String())
	require.Equal(t, "Device Identification", VPDDeviceIdentification.String())
	require.Equal(t, "VPDPage(0xc0)", VPDPage(0xC0).String())
	require.Equal(t, "direct access block device", TypeDisk.String())
	require.Equal(t, "SPC-4", VersionSPC4.String())
	require.Equal(t, "implicit ALUA", TPGSImplicit.String())
	require.Equal(t, "thin", ProvisioningThin.String())
	require.Equal(t, "iSCSI", ProtocolISCSI.String())
	require.Equal(t, "ASCII", CodeSetASCII.String())
	require.Equal(t, "target port", AssocTargetPort.String())
	require.Equal(t, "Association(0x03)", Association(3).String())
	require.Equal(t, "SCSI name string", DesigSCSIName.String())
	require.Equal(t, "transitioning", StateTransitioning.String())
	require.Equal(t, "T|U|S|AN|AO", SupportedStates(0x8F).String())
	require.Equal(t, "altered by implicit asymmetric logical unit access", PortGroupAlteredByImplicit.String())
	require.Equal(t, "UNIT ATTENTION", KeyUnitAttention.String())
	require.Equal(t, "SenseKey(0x0c)", SenseKey(0x0C).String())
	require.Equal(t, "TASK SET FULL", StatusTaskSetFull.String())
	require.Equal(t, "path error", ClassPathError.String())
	require.Equal(t, "ASYMMETRIC ACCESS STATE CHANGED", ASAccessStateChanged.String())
}

// TestCDBAllocs: the per-I/O builders do not allocate.
func TestCDBAllocs(t *testing.T) {
	var sink [16]byte
	n := testing.AllocsPerRun(100, func() {
		sink = Read16(1, 8, false)
		sink = Write16(2, 8, true)
	})
	require.Zero(t, n)
	_ = sink
}

func BenchmarkRead16(b *testing.B) {
	b.ReportAllocs()
	var sink [16]byte
	for i := range b.N {
		sink = Read16(uint64(i), 8, false)
	}
	_ = sink
}
