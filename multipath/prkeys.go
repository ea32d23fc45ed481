package multipath

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultPRKeysFile is where multipath-tools keeps the reservation keys
// of devices whose reservation_key is "file" (libmultipath/prkey.c).
const DefaultPRKeysFile = "/etc/multipath/prkeys"

// ReservationKeyFile is the reservation_key value that takes the key from
// the prkeys file, where `gomp persist --out --register` puts it.
const ReservationKeyFile = "file"

// ParseReservationKey reads a reservation_key value other than
// ReservationKeyFile as multipath-tools' parse_prkey_flags does: up to 16
// hex digits with an optional 0x, and an optional ":aptpl" suffix. A zero
// key is refused: it means "no key".
func ParseReservationKey(v string) (key uint64, aptpl bool, err error) {
	s, aptpl := strings.CutSuffix(v, ":aptpl")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) == 0 || len(s) > 16 {
		return 0, false, fmt.Errorf("invalid reservation key %q (want up to 16 hex digits, optionally 0x..., :aptpl)", v)
	}
	key, err = strconv.ParseUint(s, 16, 64)
	if err != nil || key == 0 {
		return 0, false, fmt.Errorf("invalid reservation key %q (want a non-zero hex value)", v)
	}
	return key, aptpl, nil
}

// prkeysHeader is multipath-tools' PRKEYS_FILE_HEADER.
const prkeysHeader = `# Multipath persistent reservation keys, Version : 1.0
# NOTE: this file is automatically maintained by the multipathd program.
# You should not need to edit this file in normal circumstances.
#
# Format:
# prkey wwid
#
`

// readPRKey returns the key the prkeys file at path holds for wwid, as
// multipath-tools writes it: "0x%016x WWID", a capital 0X meaning APTPL.
// A missing file or line is ok == false.
func readPRKey(path, wwid string) (key uint64, aptpl, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("multipath: prkeys file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || strings.HasPrefix(fields[0], "#") || fields[1] != wwid {
			continue
		}
		k, _, err := ParseReservationKey(fields[0])
		if err != nil {
			return 0, false, false, fmt.Errorf("multipath: prkeys file %s: %w", path, err)
		}
		return k, strings.HasPrefix(fields[0], "0X"), true, nil
	}
	return 0, false, false, sc.Err()
}

// writePRKey sets (key != 0) or removes (key == 0) wwid's line of the
// prkeys file at path, replacing the file atomically.
func writePRKey(path, wwid string, key uint64, aptpl bool) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("multipath: prkeys file: %w", err)
	}
	var b strings.Builder
	if len(old) == 0 {
		b.WriteString(prkeysHeader)
	}
	for line := range strings.Lines(string(old)) {
		if f := strings.Fields(line); len(f) == 2 && f[1] == wwid && !strings.HasPrefix(f[0], "#") {
			continue
		}
		b.WriteString(line)
	}
	if key != 0 {
		x := "0x"
		if aptpl {
			x = "0X" // multipath-tools' mark of APTPL
		}
		fmt.Fprintf(&b, "%s%016x %s\n", x, key, wwid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("multipath: prkeys file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("multipath: prkeys file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("multipath: prkeys file: %w", err)
	}
	return nil
}
