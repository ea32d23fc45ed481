package pdu

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// KeyValue is one text key and its value (RFC 7143 §6.1).
type KeyValue struct {
	Key   string
	Value string
}

// String returns "key=value".
func (kv KeyValue) String() string { return kv.Key + "=" + kv.Value }

// Special values (RFC 7143 §6.2).
const (
	ValueReject        = "Reject"
	ValueIrrelevant    = "Irrelevant"
	ValueNotUnderstood = "NotUnderstood"
	ValueNone          = "None"
	ValueYes           = "Yes"
	ValueNo            = "No"
)

// TextLimits bounds what ParseText and TextAssembler accept. The zero value
// means the defaults named in each field.
type TextLimits struct {
	MaxKeyLength   int // default 63 (RFC 7143 §6.1)
	MaxValueLength int // default 8192: CHAP_C/CHAP_R in hex exceed 255
	MaxKeys        int // default 4096 (SendTargets on large targets)
	MaxTextLength  int // default 1 MiB: all continued PDUs together
}

func (l TextLimits) withDefaults() TextLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxKeyLength, 63)
	def(&l.MaxValueLength, 8192)
	def(&l.MaxKeys, 4096)
	def(&l.MaxTextLength, 1<<20)
	return l
}

// ParseText splits a text segment into key=value pairs (RFC 7143 §6.1):
// every pair ends with a NUL; a final pair without one is accepted, and so
// are empty strings between NULs (some targets pad with NULs). Key order and
// duplicates are kept; the caller decides what a duplicate means.
func ParseText(data []byte, lim TextLimits) ([]KeyValue, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxTextLength {
		return nil, &TextError{Reason: fmt.Sprintf("text of %d bytes exceeds %d", len(data), lim.MaxTextLength), limit: true}
	}
	var kvs []KeyValue
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			end = len(data) - off
		}
		pair := data[off : off+end]
		if len(pair) > 0 {
			if len(kvs) == lim.MaxKeys {
				return nil, &TextError{Offset: off, Reason: fmt.Sprintf("more than %d keys", lim.MaxKeys), limit: true}
			}
			kv, err := parsePair(pair, off, lim)
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, kv)
		}
		off += end + 1
	}
	return kvs, nil
}

func parsePair(pair []byte, off int, lim TextLimits) (KeyValue, error) {
	eq := bytes.IndexByte(pair, '=')
	if eq < 0 {
		return KeyValue{}, &TextError{Offset: off, Key: shortKey(pair), Reason: "no '=' in key=value pair"}
	}
	key, value := pair[:eq], pair[eq+1:]
	if err := checkKey(key, lim.MaxKeyLength); err != "" {
		return KeyValue{}, &TextError{Offset: off, Key: shortKey(key), Reason: err, limit: len(key) > lim.MaxKeyLength}
	}
	if len(value) > lim.MaxValueLength {
		return KeyValue{}, &TextError{Offset: off + eq + 1, Key: string(key), Reason: fmt.Sprintf("value of %d bytes exceeds %d", len(value), lim.MaxValueLength), limit: true}
	}
	return KeyValue{Key: string(key), Value: string(value)}, nil
}

func shortKey(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// checkKey returns why key is not a valid key-name, or "" (RFC 7143 §6.1:
// letters, digits, '.', '-', '+', '@', '_', and '#' for X# keys; at most 63
// bytes).
func checkKey(key []byte, maxLen int) string {
	if len(key) == 0 {
		return "empty key"
	}
	if len(key) > maxLen {
		return fmt.Sprintf("key of %d bytes exceeds %d", len(key), maxLen)
	}
	for _, c := range key {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '+', c == '@', c == '_', c == '#':
			// '#' is outside §6.1's list but RFC 7143 itself defines
			// X#NodeArchitecture (§13.26) and the X# key prefix (§13.5.4).
		default:
			return fmt.Sprintf("invalid character %q in key", c)
		}
	}
	return ""
}

// AppendText appends key=value pairs, each followed by a NUL. It refuses
// invalid keys and values holding a NUL.
func AppendText(b []byte, kvs ...KeyValue) ([]byte, error) {
	start := len(b)
	for _, kv := range kvs {
		if err := checkKey([]byte(kv.Key), 63); err != "" {
			return b[:start], &TextError{Offset: len(b) - start, Key: kv.Key, Reason: err}
		}
		if strings.IndexByte(kv.Value, 0) >= 0 {
			return b[:start], &TextError{Offset: len(b) - start, Key: kv.Key, Reason: "value holds a NUL"}
		}
		b = append(append(append(append(b, kv.Key...), '='), kv.Value...), 0)
	}
	return b, nil
}

// Lookup returns the value of the first pair with key.
func Lookup(kvs []KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// SplitList splits a list-of-values (RFC 7143 §6.1) at its commas; an
// empty value is an empty list.
func SplitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// ParseBool parses a boolean-value: "Yes" or "No" (RFC 7143 §6.1).
func ParseBool(v string) (bool, error) {
	switch v {
	case ValueYes:
		return true, nil
	case ValueNo:
		return false, nil
	}
	return false, &TextError{Reason: fmt.Sprintf("boolean %q is neither Yes nor No", clip(v))}
}

// FormatBool formats a boolean-value.
func FormatBool(b bool) string {
	if b {
		return ValueYes
	}
	return ValueNo
}

// ParseNumber parses a numerical-value of up to 64 bits (RFC 7143 §6.1): a
// decimal-constant, a hex-constant ("0x"), or a base64-constant ("0b").
func ParseNumber(v string) (uint64, error) {
	if !isBinaryConstant(v) {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, &TextError{Reason: fmt.Sprintf("number %q is not a decimal-constant", clip(v))}
		}
		return n, nil
	}
	b, err := ParseBinary(v)
	if err != nil {
		return 0, err
	}
	if len(b) > 8 {
		// Leading zero bytes do not make a number larger.
		for len(b) > 8 && b[0] == 0 {
			b = b[1:]
		}
		if len(b) > 8 {
			return 0, &TextError{Reason: fmt.Sprintf("number %q exceeds 64 bits", clip(v))}
		}
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n, nil
}

func isBinaryConstant(v string) bool {
	return len(v) > 2 && v[0] == '0' && (v[1]|0x20 == 'x' || v[1]|0x20 == 'b')
}

// ParseBinary parses a binary-value (RFC 7143 §6.1): "0x" followed by hex
// digits (an odd count implies a leading zero) or "0b" followed by base64.
func ParseBinary(v string) ([]byte, error) {
	if !isBinaryConstant(v) {
		return nil, &TextError{Reason: fmt.Sprintf("binary value %q lacks a 0x or 0b prefix and digits", clip(v))}
	}
	body := v[2:]
	if v[1]|0x20 == 'x' {
		if len(body)%2 == 1 {
			body = "0" + body
		}
		b, err := hex.DecodeString(body)
		if err != nil {
			return nil, &TextError{Reason: fmt.Sprintf("hex-constant %q: %v", clip(v), err)}
		}
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, &TextError{Reason: fmt.Sprintf("base64-constant %q: %v", clip(v), err)}
	}
	return b, nil
}

// FormatHex formats b as a hex-constant ("0x…").
func FormatHex(b []byte) string { return "0x" + hex.EncodeToString(b) }

// FormatBase64 formats b as a base64-constant ("0b…").
func FormatBase64(b []byte) string { return "0b" + base64.StdEncoding.EncodeToString(b) }

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// TextAssembler joins the data segments of a Login or Text exchange that
// span several PDUs with the C bit (RFC 7143 §11.10.2, §11.12.2). A key=value
// pair may be split anywhere, even inside the key.
type TextAssembler struct {
	Limits TextLimits
	buf    []byte
}

// Add appends one PDU's data segment; cont is that PDU's C bit. When cont is
// false it returns the parsed pairs of the whole text and resets itself.
func (a *TextAssembler) Add(data []byte, cont bool) (kvs []KeyValue, done bool, err error) {
	lim := a.Limits.withDefaults()
	if len(a.buf)+len(data) > lim.MaxTextLength {
		n := len(a.buf) + len(data)
		a.Reset()
		return nil, false, &TextError{Reason: fmt.Sprintf("continued text of %d bytes exceeds %d", n, lim.MaxTextLength), limit: true}
	}
	if cont {
		a.buf = append(a.buf, data...)
		return nil, false, nil
	}
	text := data
	if len(a.buf) > 0 {
		text = append(a.buf, data...)
	}
	kvs, err = ParseText(text, lim)
	a.Reset()
	return kvs, err == nil, err
}

// Pending returns the number of bytes held from continued PDUs.
func (a *TextAssembler) Pending() int { return len(a.buf) }

// Reset drops any partial text.
func (a *TextAssembler) Reset() { a.buf = a.buf[:0] }

// NextChunk cuts the first chunk of at most max bytes from text, for sending
// a long text in several PDUs: set C on every PDU but the one that carries
// the last chunk (rest empty).
// max below 1 is taken as 1, so that a loop over NextChunk always ends.
func NextChunk(text []byte, max int) (chunk, rest []byte) {
	if max < 1 {
		max = 1
	}
	if len(text) <= max {
		return text, nil
	}
	return text[:max:max], text[max:]
}
