package pdu

import (
	"bytes"
	"testing"
)

// FuzzReadPDU feeds arbitrary bytes to a Framer, with digests chosen by the
// fuzzer. Every PDU it accepts must survive decode→encode→decode unchanged,
// and nothing may panic or read past the receive limit.
func FuzzReadPDU(f *testing.F) {
	for _, p := range samplePDUs() {
		for mode := range byte(4) {
			f.Add(framed(f, mode&1 != 0, mode&2 != 0, p), mode)
		}
	}
	for _, c := range goldenCases() {
		f.Add(c.wire, byte(0))
	}
	f.Add(bytes.Repeat([]byte{0xff}, 100), byte(0))
	f.Fuzz(func(t *testing.T, wire []byte, mode byte) {
		fr := NewFramer(bytes.NewReader(wire), nil)
		fr.SetDigests(mode&1 != 0, mode&2 != 0)
		fr.SetMaxRecvDataSegmentLength(1 << 16)
		for range 64 {
			p, err := fr.ReadPDU()
			if err != nil && p == nil {
				return
			}
			if n := len(p.Payload()); n > 1<<16 {
				t.Fatalf("payload of %d bytes passed the 64 KiB limit", n)
			}
			checkRoundTrip(t, p)
		}
	})
}

// FuzzDecode checks Decode on arbitrary bytes the same way.
func FuzzDecode(f *testing.F) {
	for _, p := range samplePDUs() {
		f.Add(encode(f, p))
	}
	for _, c := range goldenCases() {
		f.Add(c.wire)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := Decode(b)
		if err != nil {
			return
		}
		if n > len(b) || n < BHSLength {
			t.Fatalf("Decode used %d of %d bytes", n, len(b))
		}
		checkRoundTrip(t, p)
	})
}

func checkRoundTrip(t *testing.T, p PDU) {
	t.Helper()
	enc, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatalf("%v decoded but does not encode: %v", p.Opcode(), err)
	}
	q, n, err := Decode(enc)
	if err != nil || n != len(enc) {
		t.Fatalf("%v: re-decode of own encoding: n=%d/%d, %v", p.Opcode(), n, len(enc), err)
	}
	enc2, err := q.AppendBinary(nil)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("%v: decode→encode→decode changed the PDU (%v)\n%x\n%x", p.Opcode(), err, enc, enc2)
	}
}

// FuzzTextKeys parses arbitrary text segments, checks that a parse survives
// AppendText→ParseText, and that splitting the text across continued PDUs
// gives the same pairs as one segment.
func FuzzTextKeys(f *testing.F) {
	f.Add([]byte("HeaderDigest=CRC32C,None\x00MaxRecvDataSegmentLength=262144\x00"), uint16(5))
	f.Add([]byte("CHAP_A=7,6,5\x00CHAP_C=0x0123456789abcdef\x00CHAP_N=user\x00"), uint16(17))
	f.Add([]byte("TargetName=iqn.2026-11.dev.gomp:lab\x00TargetAddress=127.0.0.1:3260,1\x00"), uint16(3))
	f.Add([]byte("a=\x00\x00=b\x00"), uint16(0))
	f.Fuzz(func(t *testing.T, text []byte, cut uint16) {
		lim := TextLimits{MaxKeys: 64, MaxTextLength: 4096}
		kvs, err := ParseText(text, lim)
		var a TextAssembler
		a.Limits = lim
		split := int(cut) % (len(text) + 1)
		if _, done, err := a.Add(text[:split], true); err != nil || done {
			if len(text) <= 4096 {
				t.Fatalf("continued part refused: %v", err)
			}
			return
		}
		kvs2, _, err2 := a.Add(text[split:], false)
		if (err == nil) != (err2 == nil) || len(kvs) != len(kvs2) {
			t.Fatalf("split at %d changed the result: %v / %v", split, err, err2)
		}
		if err != nil {
			return
		}
		enc, err := AppendText(nil, kvs...)
		if err != nil {
			t.Fatalf("parsed pairs do not encode: %v", err)
		}
		again, err := ParseText(enc, lim)
		if err != nil || len(again) != len(kvs) {
			t.Fatalf("re-parse: %v", err)
		}
		for i := range kvs {
			if kvs[i] != again[i] || kvs[i] != kvs2[i] {
				t.Fatalf("pair %d: %v / %v / %v", i, kvs[i], again[i], kvs2[i])
			}
		}
	})
}

// FuzzParseNumber checks that numbers never panic and that a number's
// decimal form parses back to itself.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"8192", "0x2000", "0bAAAgAA==", "0x", "0b", "00", "18446744073709551615", "0x0000000000000000ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNumber(s)
		if err != nil {
			return
		}
		if m, err := ParseNumber(FormatHex(be.AppendUint64(nil, n))); err != nil || m != n {
			t.Fatalf("%q = %d, hex form gives %d, %v", s, n, m, err)
		}
	})
}
