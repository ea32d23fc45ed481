package scsi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSupportedPages(t *testing.T) {
	got, err := ParseSupportedPages(vpd00TGT)
	require.NoError(t, err)
	require.Equal(t, []VPDPage{VPDSupportedPages, VPDUnitSerial, VPDDeviceIdentification,
		VPDBlockLimits, VPDBlockDeviceCharacteristics, VPDLogicalBlockProvisioning}, got)
	requirePrefixes(t, vpd00TGT, len(vpd00TGT), ParseSupportedPages, nil)
}

func TestParseUnitSerial(t *testing.T) {
	got, err := ParseUnitSerial(vpd80TGT)
	require.NoError(t, err)
	require.Equal(t, "beaf11", got)
	requirePrefixes(t, vpd80TGT, len(vpd80TGT), ParseUnitSerial, nil)
}

func TestVPDHeaderErrors(t *testing.T) {
	_, err := ParseUnitSerial(vpd00TGT) // page 0x00 where 0x80 was expected
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.True(t, errors.Is(err, ErrInvalidField))
	require.Equal(t, "PAGE CODE", fe.Field)
	require.Equal(t, 1, fe.Offset)

	// PAGE LENGTH 0xFFFF in a 4-byte buffer: Need tells the allocation
	// length to retry with; nothing is sized from the field.
	_, err = ParseSupportedPages([]byte{0, 0, 0xFF, 0xFF})
	var te *TruncatedError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 4+0xFFFF, te.Need)
	require.Equal(t, 4, te.Have)

	// Bytes after the page are ignored.
	got, err := ParseUnitSerial(append(append([]byte{}, vpd80TGT...), 0xEE, 0xEE))
	require.NoError(t, err)
	require.Equal(t, "beaf11", got)
}

func TestParseBlockLimits(t *testing.T) {
	want := BlockLimits{WSNZ: true, MaxCompareAndWriteLength: 128, OptimalTransferLengthGranularity: 8,
		MaxTransferLength: 16384, OptimalTransferLength: 2048, MaxUnmapLBACount: 0xFFFFFFFF,
		MaxUnmapDescriptorCount: 256, OptimalUnmapGranularity: 8, UGAValid: true,
		UnmapGranularityAlignment: 3, MaxWriteSameLength: 4 << 20}
	got, err := ParseBlockLimits(vpdB0)
	require.NoError(t, err)
	require.Equal(t, want, got)
	requirePrefixes(t, vpdB0, len(vpdB0), ParseBlockLimits, nil)

	// An SBC-2 page (PAGE LENGTH 0x10) ends after OPTIMAL TRANSFER LENGTH;
	// the unmap fields read as zero ("not supported").
	sbc2 := append([]byte{0x00, 0xB0, 0x00, 0x0C}, vpdB0[4:16]...)
	got, err = ParseBlockLimits(sbc2)
	require.NoError(t, err)
	require.Equal(t, BlockLimits{WSNZ: true, MaxCompareAndWriteLength: 128,
		OptimalTransferLengthGranularity: 8, MaxTransferLength: 16384, OptimalTransferLength: 2048}, got)

	// Every shorter page length gives a consistent partial result.
	for n := range 61 {
		page := append([]byte{0x00, 0xB0, 0x00, byte(n)}, vpdB0[4:4+n]...)
		got, err := ParseBlockLimits(page)
		require.NoError(t, err)
		requireSubset(t, want, got, fmt.Sprintf("page length %d", n))
	}
}

func TestParseLogicalBlockProvisioning(t *testing.T) {
	got, err := ParseLogicalBlockProvisioning(vpdB2TGT)
	require.NoError(t, err)
	require.Equal(t, LogicalBlockProvisioning{LBPU: true, LBPWS: true, LBPWS10: true, LBPRZ: true,
		ProvisioningType: ProvisioningThin}, got)
	requirePrefixes(t, vpdB2TGT, len(vpdB2TGT), ParseLogicalBlockProvisioning, nil)

	// SBC-4 LBPRZ 010b (provisioning initialization pattern) is not zeros;
	// threshold exponent, ANC_SUP and DP.
	got, err = ParseLogicalBlockProvisioning([]byte{0x00, 0xB2, 0x00, 0x04,
		0x0C, // THRESHOLD EXPONENT 12
		0x0B, // LBPRZ 010b, ANC_SUP, DP
		0x01, // PROVISIONING TYPE: resource
		0x00})
	require.NoError(t, err)
	require.Equal(t, LogicalBlockProvisioning{ThresholdExponent: 12, ANCSup: true, DP: true,
		ProvisioningType: ProvisioningResource}, got)

	// Fully provisioned tgt LU: all zero.
	got, err = ParseLogicalBlockProvisioning([]byte{0x00, 0xB2, 0x00, 0x04, 0, 0, 0, 0})
	require.NoError(t, err)
	require.Equal(t, LogicalBlockProvisioning{}, got)
}
