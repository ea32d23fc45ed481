package scsi_test

import (
	"fmt"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// The Device Identification page tgtd returns for LUN 1 of target 1, and
// the WWID multipath-tools gives it.
func ExampleWWID() {
	page := []byte{0x00, 0x83, 0x00, 0x48,
		0x02, 0x01, 0x00, 0x24, 'I', 'E', 'T', ' ', ' ', ' ', ' ', ' ',
		'0', '0', '0', '1', '0', '0', '0', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 36-byte T10 vendor ID, NUL padded
		0x01, 0x03, 0x00, 0x08, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
		0x01, 0x03, 0x00, 0x10, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}
	ds, err := scsi.ParseDeviceIdentification(page)
	if err != nil {
		panic(err)
	}
	for _, d := range ds {
		fmt.Println(d)
	}
	wwid, _ := scsi.WWID(ds)
	fmt.Println("WWID", wwid)
	// Output:
	// T10 vendor ID (logical unit): "IET     00010001"
	// NAA 3 (logical unit): 3000000100000001
	// NAA 6 (logical unit): 60000000000000000e00000000010001
	// WWID 360000000000000000e00000000010001
}

// A CHECK CONDITION from a standby ALUA port: fail the path over.
func ExampleClassify() {
	sense := []byte{0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x0B, 0, 0, 0, 0}
	s, err := scsi.ParseSense(sense)
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	fmt.Println(scsi.Classify(scsi.StatusCheckCondition, &s))
	// Output:
	// NOT READY: LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE (04/0B)
	// path error
}

// Building a READ(16) and the parameter list of an UNMAP.
func ExampleAppendUnmapParameters() {
	cdb := scsi.Read16(2048, 8, false)
	fmt.Printf("% x\n", cdb)
	params, err := scsi.AppendUnmapParameters(nil, []scsi.Extent{{LBA: 4096, Blocks: 256}})
	if err != nil {
		panic(err)
	}
	unmap := scsi.Unmap(uint16(len(params)), false)
	fmt.Printf("% x\n% x\n", unmap, params)
	// Output:
	// 88 00 00 00 00 00 00 00 08 00 00 00 00 08 00 00
	// 42 00 00 00 00 00 00 00 18 00
	// 00 16 00 10 00 00 00 00 00 00 00 00 00 00 10 00 00 00 01 00 00 00 00 00
}
