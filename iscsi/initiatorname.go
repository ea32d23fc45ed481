package iscsi

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// InitiatorNameFile is where open-iscsi keeps the host's initiator name;
// gomp reads the same file, so that a host keeps one iSCSI identity
// whichever initiator logs in.
const InitiatorNameFile = "/etc/iscsi/initiatorname.iscsi"

// Identity is the host's iSCSI identity: the initiator name arrays map
// LUNs to (their ACLs), and an optional human-readable alias (RFC 7143
// §13.6).
type Identity struct {
	Name  string // InitiatorName, e.g. iqn.1993-08.org.debian:01:0123456789ab
	Alias string // InitiatorAlias; empty when none
}

// maxNameLen is the longest iSCSI name (RFC 3720 §3.2.6.1: 223 bytes).
const maxNameLen = 223

// CheckName reports whether name is a well-formed iSCSI name of one of the
// three types of RFC 3720 §3.2.6.3 (iqn., eui., naa.), at most 223 bytes,
// without spaces or control characters.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("iscsi: empty iSCSI name")
	case len(name) > maxNameLen:
		return fmt.Errorf("iscsi: iSCSI name of %d bytes: at most %d", len(name), maxNameLen)
	}
	for _, c := range name {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("iscsi: iSCSI name %q: spaces and control characters are not allowed", name)
		}
	}
	lower := strings.ToLower(name)
	for _, p := range []string{"iqn.", "eui.", "naa."} {
		if strings.HasPrefix(lower, p) && len(name) > len(p) {
			return nil
		}
	}
	return fmt.Errorf("iscsi: iSCSI name %q: want iqn.YYYY-MM.DOMAIN[:ID], eui.HEX or naa.HEX", name)
}

// ParseInitiatorName reads open-iscsi's initiatorname.iscsi format:
// "InitiatorName=NAME" and optionally "InitiatorAlias=ALIAS" lines; blank
// lines and lines starting with '#' are comments. A file without an
// InitiatorName line, or with a malformed name, is an error naming file.
func ParseInitiatorName(file string, data []byte) (Identity, error) {
	var id Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		key, value, _ := strings.Cut(text, "=")
		switch strings.TrimSpace(key) {
		case "InitiatorName":
			id.Name = strings.TrimSpace(value)
			if err := CheckName(id.Name); err != nil {
				return Identity{}, fmt.Errorf("%s:%d: %w", file, line, err)
			}
		case "InitiatorAlias":
			id.Alias = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return Identity{}, fmt.Errorf("%s: %w", file, err)
	}
	if id.Name == "" {
		return Identity{}, fmt.Errorf("%s: no InitiatorName= line", file)
	}
	return id, nil
}

// ReadInitiatorName reads an initiatorname.iscsi file. A missing file is
// an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadInitiatorName(path string) (Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Identity{}, err
	}
	if len(data) > 64<<10 {
		return Identity{}, fmt.Errorf("%s: %d bytes, not an initiator name file", path, len(data))
	}
	return ParseInitiatorName(path, data)
}

// FormatInitiatorName returns id in the initiatorname.iscsi format that
// ParseInitiatorName and open-iscsi read.
func FormatInitiatorName(id Identity) []byte {
	var b bytes.Buffer
	b.WriteString("## Written by gomp: this host's iSCSI initiator name, generated once.\n")
	b.WriteString("## Storage arrays map LUNs to this name: keep it stable.\n")
	fmt.Fprintf(&b, "InitiatorName=%s\n", id.Name)
	if id.Alias != "" {
		fmt.Fprintf(&b, "InitiatorAlias=%s\n", id.Alias)
	}
	return b.Bytes()
}

// GeneratedNamePrefix is the naming authority of generated initiator
// names, as open-iscsi's iscsi-iname uses by default.
const GeneratedNamePrefix = "iqn.2016-04.com.open-iscsi"

// GenerateInitiatorName returns a new initiator name in iscsi-iname's
// form: GeneratedNamePrefix, a colon and 12 random hexadecimal digits.
func GenerateInitiatorName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return GeneratedNamePrefix + ":" + hex.EncodeToString(b[:])
}
