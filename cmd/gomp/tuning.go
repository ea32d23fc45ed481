package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/multipath"
)

// tuningFlags are the session and timer settings of gomp attach that
// open-iscsi keeps in its node records (node.conn[0].iscsi.HeaderDigest,
// node.conn[0].timeo.noop_out_*, node.session.timeo.replacement_timeout,
// …). Each is recordable in a gomp node record; unset means the library's
// default.
type tuningFlags struct {
	digest, headerDigest, dataDigest digestFlag
	nopInterval, nopTimeout          durationFlag
	loginTimeout                     durationFlag
	commandTimeout                   durationFlag
	replacementTimeout               durationFlag
}

// registerFlags adds the tuning flags to f.
func (t *tuningFlags) registerFlags(f *pflag.FlagSet) {
	t.nopInterval.offOK, t.commandTimeout.offOK = true, true
	t.replacementTimeout.zeroOK = true
	f.Var(&t.digest, "digest", "header and data digests: none, crc32c (required), \"crc32c,none\" or \"none,crc32c\" (default none)")
	f.Var(&t.headerDigest, "header-digest", "header digest, as --digest (default: --digest)")
	f.Var(&t.dataDigest, "data-digest", "data digest, as --digest (default: --digest)")
	f.Var(&t.nopInterval, "nop-interval", "NOP-Out ping interval per session, or off (default 1s)")
	f.Var(&t.nopTimeout, "nop-timeout", "a session that answers nothing for this long after a ping is failed (default 2s)")
	f.Var(&t.loginTimeout, "login-timeout", "time limit for one login, at attach and at each reconnection (default: polling interval, 1s..15s)")
	f.Var(&t.commandTimeout, "command-timeout", "a path with I/O in flight that completes nothing for this long is reset and its I/O retried elsewhere, or off (default 30s)")
	f.Var(&t.replacementTimeout, "replacement-timeout", "how long I/O waits for a failed session to be reinstated before failing over (default 0: at once)")
}

// apply sets the flags that were given in cfg.
func (t *tuningFlags) apply(cfg *multipath.Config) {
	cfg.Negotiation.HeaderDigest = first(t.headerDigest.list, t.digest.list)
	cfg.Negotiation.DataDigest = first(t.dataDigest.list, t.digest.list)
	if t.nopInterval.set {
		cfg.NOPInterval = t.nopInterval.d
	}
	if t.nopTimeout.set {
		cfg.NOPTimeout = t.nopTimeout.d
	}
	if t.loginTimeout.set {
		cfg.LoginTimeout = t.loginTimeout.d
	}
	if t.commandTimeout.set {
		cfg.IOTimeout = t.commandTimeout.d
	}
	if t.replacementTimeout.set {
		cfg.ReplacementTimeout = t.replacementTimeout.d
	}
}

func first(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

// digestFlag is a digest setting (pflag.Value): the preference list the
// login proposes, nil when unset.
type digestFlag struct{ list []string }

// Set reads the value as open-iscsi spells it.
func (f *digestFlag) Set(v string) error {
	l, err := digestList(v)
	if err != nil {
		return err
	}
	f.list = l
	return nil
}

// String prints the value as Set reads it: "" when unset.
func (f *digestFlag) String() string { return strings.ToLower(strings.Join(f.list, ",")) }

// Type names the value in help.
func (f *digestFlag) Type() string { return "digest" }

// digestList reads a digest setting as open-iscsi spells it (None,
// CRC32C, "CRC32C,None", "None,CRC32C"; any case) into the preference
// list the login proposes. Without None the digest is mandatory: the
// login fails if the target will not use it.
func digestList(v string) ([]string, error) {
	bad := errors.New(`want none, crc32c, "crc32c,none" or "none,crc32c"`)
	var list []string
	for _, d := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(d)) {
		case "none":
			list = append(list, "None")
		case "crc32c":
			list = append(list, "CRC32C")
		default:
			return nil, bad
		}
	}
	if len(list) > 2 || len(list) == 2 && list[0] == list[1] {
		return nil, bad
	}
	return list, nil
}

// durationFlag is a duration flag that knows whether it was given, so
// that an unset one leaves the library default (pflag.Value).
type durationFlag struct {
	d      time.Duration // -1 for off
	set    bool
	offOK  bool // "off" (or 0) disables
	zeroOK bool // 0 is a value of its own
}

// Set reads a Go duration ("500ms", "2s"), a number of seconds as
// open-iscsi's settings are written ("5"), or "off" where allowed.
func (f *durationFlag) Set(v string) error {
	var d time.Duration
	switch n, err := strconv.Atoi(v); {
	case v == "off" && f.offOK:
		d = -1
	case err == nil:
		d = time.Duration(n) * time.Second
	default:
		if d, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("want a duration such as 5s or 500ms%s", f.offHint())
		}
	}
	switch {
	case d == 0 && f.offOK:
		d = -1
	case d == 0 && f.zeroOK:
	case d <= 0 && d != -1, d == -1 && v != "off":
		return fmt.Errorf("want a positive duration%s", f.offHint())
	}
	f.d, f.set = d, true
	return nil
}

func (f *durationFlag) offHint() string {
	if f.offOK {
		return ", or off"
	}
	return ""
}

// String prints the value as Set reads it: "" when unset.
func (f *durationFlag) String() string {
	switch {
	case !f.set:
		return ""
	case f.d == -1:
		return "off"
	}
	return f.d.String()
}

// Type names the value in help.
func (f *durationFlag) Type() string { return "duration" }
