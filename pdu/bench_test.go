package pdu

import (
	"io"
	"testing"
)

func benchEncode(b *testing.B, p PDU) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256+len(p.Payload()))
	b.SetBytes(int64(len(encode(b, p))))
	for b.Loop() {
		var err error
		if buf, err = p.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchWrite(b *testing.B, p PDU, digests bool) {
	b.ReportAllocs()
	f := NewFramer(nil, io.Discard)
	f.SetDigests(digests, digests)
	f.SetMaxSendDataSegmentLength(MaxDataSegmentLength)
	b.SetBytes(int64(len(framed(b, digests, digests, p))))
	for b.Loop() {
		if err := f.WritePDU(p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRead(b *testing.B, p PDU, digests bool) {
	b.ReportAllocs()
	wire := framed(b, digests, digests, p)
	f := NewFramer(&loopReader{b: wire}, nil)
	f.SetDigests(digests, digests)
	f.SetMaxRecvDataSegmentLength(MaxDataSegmentLength)
	dst := make([]byte, len(p.Payload()))
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, err := f.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		if err := f.ReadData(dst); err != nil {
			b.Fatal(err)
		}
	}
}

func read16() *SCSICommand {
	return &SCSICommand{Final: true, Read: true, Attr: AttrSimple, LUN: MakeLUN(1), ITT: 2,
		ExpectedDataTransferLength: 1 << 20, CmdSN: 8, ExpStatSN: 3,
		CDB: []byte{0x88, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0x08, 0, 0, 0}}
}

func BenchmarkEncodeSCSICommand(b *testing.B) { benchEncode(b, read16()) }

func BenchmarkDecodeSCSICommand(b *testing.B) {
	b.ReportAllocs()
	wire := encode(b, read16())
	f := NewFramer(&loopReader{b: wire}, nil)
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, err := f.ReadPDU(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteDataOut64K(b *testing.B) {
	benchWrite(b, &DataOut{ITT: 1, TTT: 5, BufferOffset: 65536, Data: make([]byte, 65536)}, false)
}

func BenchmarkWriteDataOut64KDigests(b *testing.B) {
	benchWrite(b, &DataOut{ITT: 1, TTT: 5, BufferOffset: 65536, Data: make([]byte, 65536)}, true)
}

func BenchmarkReadDataIn64K(b *testing.B) {
	benchRead(b, &DataIn{ITT: 1, DataSN: 3, Data: make([]byte, 65536)}, false)
}

func BenchmarkReadDataIn64KDigests(b *testing.B) {
	benchRead(b, &DataIn{ITT: 1, DataSN: 3, Data: make([]byte, 65536)}, true)
}

func BenchmarkDecodeDataInHeader(b *testing.B) {
	b.ReportAllocs()
	wire := encode(b, &DataIn{Final: true, StatusValid: true, ITT: 1, DataSN: 3})
	f := NewFramer(&loopReader{b: wire}, nil)
	for b.Loop() {
		if _, err := f.ReadPDU(); err != nil {
			b.Fatal(err)
		}
	}
}
