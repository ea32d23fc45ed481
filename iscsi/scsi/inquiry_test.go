package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseInquiry(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want InquiryData
	}{
		{"tgt", inquiryTGT, InquiryData{DeviceType: TypeDisk, Version: VersionSPC3, HiSup: true,
			ResponseDataFormat: 2, CmdQue: true, Vendor: "IET", Product: "VIRTUAL-DISK", Revision: "0001"}},
		{"ALUA array", inquiryALUA, InquiryData{DeviceType: TypeDisk, Version: VersionSPC4, NormACA: true,
			HiSup: true, ResponseDataFormat: 2, TPGS: TPGSImplicit, ThreePC: true, Protect: true,
			MultiP: true, CmdQue: true, Vendor: "LIO-ORG", Product: "block1", Revision: "4.0"}},
		{"no LU (tgt TYPE_NO_LUN)", cat([]byte{0x7F, 0x80, 0, 0x02, 31, 0x30, 0x40, 0}, make([]byte, 28)),
			InquiryData{PeripheralQualifier: 3, DeviceType: TypeUnknownOrNoDevice, RMB: true,
				ResponseDataFormat: 2, TPGS: TPGSBoth, EncServ: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInquiry(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			requirePrefixes(t, tt.in, inquiryMinLen, ParseInquiry, func(t *testing.T, n int, got InquiryData) {
				require.Equal(t, tt.want, got, "prefix of %d bytes", n)
			})
		})
	}
}
