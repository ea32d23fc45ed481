package multipath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
)

// GroupingPolicy is multipath.conf's path_grouping_policy: how paths are
// put into path groups. I/O goes to one group at a time.
type GroupingPolicy string

// Grouping policies. The zero value picks group_by_prio when the target
// reports ALUA (TPGS != 0) and multibus otherwise.
const (
	GroupAuto     GroupingPolicy = ""
	GroupFailover GroupingPolicy = "failover"      // one path per group
	GroupMultibus GroupingPolicy = "multibus"      // every path in one group
	GroupByPrio   GroupingPolicy = "group_by_prio" // one group per priority value
	GroupByTPG    GroupingPolicy = "group_by_tpg"  // one group per ALUA target port group
)

// UnmarshalText reads multipath.conf's path_grouping_policy names.
// group_by_serial and group_by_node_name put every path of one LUN of one
// target in one group, which is multibus. The error names the value.
func (g *GroupingPolicy) UnmarshalText(text []byte) error {
	switch s := string(text); s {
	case "failover", "multibus", "group_by_prio", "group_by_tpg":
		*g = GroupingPolicy(s)
		return nil
	case "group_by_serial", "group_by_node_name":
		*g = GroupMultibus
		return nil
	}
	return fmt.Errorf("unknown path_grouping_policy %q (want failover, multibus, group_by_prio, group_by_tpg)", text)
}

// MarshalText returns the multipath.conf name; GroupAuto is empty.
func (g GroupingPolicy) MarshalText() ([]byte, error) { return []byte(g), nil }

// Failback says when I/O returns to a better path group that has recovered
// (multipath.conf's failback). A positive value defers the switch by that
// long; the zero value means "unset" and resolves to FailbackImmediate.
type Failback time.Duration

// Failback modes.
const (
	FailbackImmediate  Failback = -1 // switch as soon as a better group is usable
	FailbackManual     Failback = -2 // only SwitchGroup, or the current group failing
	FailbackFollowover Failback = -3 // only when the first path of the better group comes back
)

// String returns the multipath.conf spelling: "immediate", "manual",
// "followover" or a number of seconds; "unset" for zero.
func (f Failback) String() string {
	switch {
	case f == 0:
		return "unset"
	case f == FailbackImmediate:
		return "immediate"
	case f == FailbackManual:
		return "manual"
	case f == FailbackFollowover:
		return "followover"
	case f > 0:
		return strconv.FormatInt(int64(time.Duration(f)/time.Second), 10)
	}
	return fmt.Sprintf("Failback(%d)", int64(f))
}

// UnmarshalText reads multipath.conf's failback: immediate, manual,
// followover or a number of seconds, 0 meaning immediate. The error names
// the value.
func (f *Failback) UnmarshalText(text []byte) error {
	switch s := string(text); s {
	case "immediate":
		*f = FailbackImmediate
		return nil
	case "manual":
		*f = FailbackManual
		return nil
	case "followover":
		*f = FailbackFollowover
		return nil
	}
	n, err := strconv.Atoi(string(text))
	switch {
	case err != nil || n < 0:
		return fmt.Errorf("invalid failback %q (want immediate, manual, followover or seconds)", text)
	case n == 0:
		*f = FailbackImmediate
		return nil
	}
	*f = Failback(time.Duration(n) * time.Second)
	return nil
}

// MarshalText returns the String spelling; the zero value (unset) has
// none and is empty text, which UnmarshalText refuses.
func (f Failback) MarshalText() ([]byte, error) { return unsetText(f, f.String()), nil }

// unsetText is s, or nothing for the zero value of a multipath.conf type.
func unsetText[T comparable](v T, s string) []byte {
	var zero T
	if v == zero {
		return []byte{}
	}
	return []byte(s)
}

// NoPathRetry says what happens to I/O when no path is usable
// (multipath.conf's no_path_retry): a positive N queues it for N checker
// intervals, then fails it. The zero value means "unset" and resolves to
// DefaultNoPathRetry.
type NoPathRetry int

// NoPathRetry modes.
const (
	NoPathRetryFail  NoPathRetry = -1 // fail I/O at once
	NoPathRetryQueue NoPathRetry = -2 // queue until a path returns, DisableQueueing, the caller's context, or Close
)

// DefaultNoPathRetry is twelve checker intervals (a minute at the default
// polling interval), enough to ride out a switch reboot.
const DefaultNoPathRetry NoPathRetry = 12

// String returns the multipath.conf spelling: "fail", "queue" or a number
// of checker intervals; "unset" for zero.
func (n NoPathRetry) String() string {
	switch {
	case n == 0:
		return "unset"
	case n == NoPathRetryFail:
		return "fail"
	case n == NoPathRetryQueue:
		return "queue"
	case n > 0:
		return strconv.Itoa(int(n))
	}
	return fmt.Sprintf("NoPathRetry(%d)", int(n))
}

// UnmarshalText reads multipath.conf's no_path_retry: fail, queue or a
// number of checker intervals, 0 meaning fail (as in multipath-tools).
// The error names the value. The conf reader and gomp's --no-path-retry
// both use it.
func (n *NoPathRetry) UnmarshalText(text []byte) error {
	switch string(text) {
	case "fail":
		*n = NoPathRetryFail
		return nil
	case "queue":
		*n = NoPathRetryQueue
		return nil
	}
	v, err := strconv.Atoi(string(text))
	switch {
	case err != nil || v < 0:
		return fmt.Errorf("invalid no_path_retry %q (want fail, queue or a number of checks)", text)
	case v == 0:
		*n = NoPathRetryFail
		return nil
	}
	*n = NoPathRetry(v)
	return nil
}

// MarshalText returns the String spelling; the zero value (unset) has
// none and is empty text, which UnmarshalText refuses.
func (n NoPathRetry) MarshalText() ([]byte, error) { return unsetText(n, n.String()), nil }

// YesNo is a multipath.conf boolean whose zero value means "unset".
type YesNo int8

// YesNo values.
const (
	Unset YesNo = 0
	Yes   YesNo = 1
	No    YesNo = -1
)

// String returns "yes", "no" or "unset".
func (y YesNo) String() string {
	switch y {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unset"
}

// UnmarshalText accepts what multipath-tools' set_yes_no_undef accepts:
// yes or 1, no or 0.
func (y *YesNo) UnmarshalText(text []byte) error {
	switch string(text) {
	case "yes", "1":
		*y = Yes
	case "no", "0":
		*y = No
	default:
		return fmt.Errorf("invalid value %q (want yes or no)", text)
	}
	return nil
}

// MarshalText returns "yes" or "no"; Unset is empty text, which
// UnmarshalText refuses.
func (y YesNo) MarshalText() ([]byte, error) { return unsetText(y, y.String()), nil }

// Settings are the tunables that multipath.conf's defaults, devices,
// overrides and multipaths sections set, and Config can override. A zero
// field is unset: the next layer down, or the built-in default, applies.
type Settings struct {
	// PathSelector is "round-robin 0", "queue-length 0" or
	// "service-time 0" (the default); the trailing argument count may be
	// left out.
	PathSelector string
	// RRMinIO is rr_min_io_rq: requests sent down one path before the
	// round-robin selector moves on. Default 1.
	RRMinIO        int
	GroupingPolicy GroupingPolicy
	Failback       Failback
	NoPathRetry    NoPathRetry
	// PollingInterval is how often the checker tests a failed path, and
	// how often it starts testing a healthy one (the interval then doubles
	// up to MaxPollingInterval). Default 5 s.
	PollingInterval time.Duration
	// MaxPollingInterval defaults to 4 × PollingInterval.
	MaxPollingInterval time.Duration
	// CheckerTimeout bounds one path check (TEST UNIT READY, and on
	// reinstatement INQUIRY and REPORT TARGET PORT GROUPS). Default:
	// PollingInterval.
	CheckerTimeout time.Duration
	// FlapThreshold, FlapWindow and FlapHold damp flapping paths, like
	// san_path_err_threshold, _forget_rate and _recovery_time: a path that
	// failed FlapThreshold times within FlapWindow stays out of use for
	// FlapHold after it recovers (unless it is the only usable path).
	// Defaults 5 failures, 60 s, 60 s; a negative FlapThreshold disables.
	FlapThreshold int
	FlapWindow    time.Duration
	FlapHold      time.Duration
	// Prio is "alua" or "const"; unset uses ALUA priorities when the
	// target reports ALUA, and one priority for every path otherwise.
	Prio string
	// Alias names the device; see Device.Name for the full rule.
	Alias string
	// UserFriendlyNames names unaliased devices mpatha, mpathb, … kept
	// stable in BindingsFile. Default no (the WWID names the device).
	UserFriendlyNames YesNo
	// AliasPrefix replaces "mpath" in user friendly names.
	AliasPrefix string
	// BindingsFile defaults to /etc/multipath/bindings.
	BindingsFile string
	// FindMultipaths is recorded and reported; gomp builds a device for
	// the portals it is given whatever its value, and only warns when
	// "yes", "on" or "strict" meets a single portal.
	FindMultipaths string
	// ReservationKey is reservation_key: the persistent reservation key
	// ("0x..." with an optional ":aptpl") that every path registers once
	// the key is registered, or "file" for the key the prkeys file holds
	// for the WWID (see Device.Register).
	ReservationKey string
	// FlapWindowChecks is san_path_err_forget_rate: FlapWindow in
	// checker intervals, used when FlapWindow is unset.
	FlapWindowChecks int
	// Features is multipath.conf's features string, as written. Of its
	// device-mapper features gomp honours queue_if_no_path only: it
	// means NoPathRetryQueue when nothing sets NoPathRetry.
	Features string
}

// Overlay returns s with every field that o sets replaced by o's value:
// o is the layer above s.
func (s Settings) Overlay(o Settings) Settings {
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	setStr(&s.PathSelector, o.PathSelector)
	setStr(&s.Alias, o.Alias)
	setStr(&s.AliasPrefix, o.AliasPrefix)
	setStr(&s.BindingsFile, o.BindingsFile)
	setStr(&s.FindMultipaths, o.FindMultipaths)
	setStr(&s.Prio, o.Prio)
	setStr(&s.ReservationKey, o.ReservationKey)
	setStr(&s.Features, o.Features)
	setDur(&s.PollingInterval, o.PollingInterval)
	setDur(&s.MaxPollingInterval, o.MaxPollingInterval)
	setDur(&s.CheckerTimeout, o.CheckerTimeout)
	setDur(&s.FlapWindow, o.FlapWindow)
	setDur(&s.FlapHold, o.FlapHold)
	s.overlayEnums(o)
	return s
}

func (s *Settings) overlayEnums(o Settings) {
	if o.RRMinIO != 0 {
		s.RRMinIO = o.RRMinIO
	}
	if o.GroupingPolicy != "" {
		s.GroupingPolicy = o.GroupingPolicy
	}
	if o.Failback != 0 {
		s.Failback = o.Failback
	}
	if o.NoPathRetry != 0 {
		s.NoPathRetry = o.NoPathRetry
	}
	if o.FlapThreshold != 0 {
		s.FlapThreshold = o.FlapThreshold
	}
	if o.FlapWindowChecks != 0 {
		s.FlapWindowChecks = o.FlapWindowChecks
	}
	if o.UserFriendlyNames != Unset {
		s.UserFriendlyNames = o.UserFriendlyNames
	}
}

// WithDefaults returns s with every unset field filled with its built-in
// default, as a device resolves its settings: Features queue_if_no_path
// stands for an unset NoPathRetry, FlapWindowChecks for an unset
// FlapWindow, and the intervals default from PollingInterval.
func (s Settings) WithDefaults() Settings {
	d := Settings{PathSelector: "service-time 0", RRMinIO: 1, Failback: FailbackImmediate,
		NoPathRetry: DefaultNoPathRetry, PollingInterval: 5 * time.Second,
		FlapThreshold: 5, FlapHold: time.Minute,
		UserFriendlyNames: No, AliasPrefix: "mpath", BindingsFile: DefaultBindingsFile}
	if s.NoPathRetry == 0 && featuresQueue(s.Features) {
		s.NoPathRetry = NoPathRetryQueue
	}
	s = d.Overlay(s)
	if s.FlapWindow <= 0 {
		s.FlapWindow = time.Minute
		if s.FlapWindowChecks > 0 {
			s.FlapWindow = time.Duration(s.FlapWindowChecks) * s.PollingInterval
		}
	}
	if s.MaxPollingInterval < s.PollingInterval {
		s.MaxPollingInterval = 4 * s.PollingInterval
	}
	if s.CheckerTimeout <= 0 {
		s.CheckerTimeout = s.PollingInterval
	}
	return s
}

// featuresQueue reports whether a features string asks to queue.
func featuresQueue(features string) bool {
	return slices.Contains(strings.Fields(features), "queue_if_no_path")
}

// ConfigFile is what a configuration file says about the LUNs it may
// meet: package multipath/conf reads multipath.conf into a *conf.File,
// which implements it. A device consults it at Open, once it knows the
// LUN's identity; a ConfigFile must be safe for concurrent use.
type ConfigFile interface {
	// Lookup returns the file's settings for a LUN, known by its WWID
	// and INQUIRY vendor and product; what the file leaves unset is
	// zero. Config's Settings go over them, built-in defaults under.
	Lookup(wwid, vendor, product string) Settings
	// Global returns the settings the file gives every LUN, whatever
	// its identity (multipath.conf's defaults, then overrides): they
	// size the login timeouts before any LUN has answered.
	Global() Settings
	// Blacklisted reports whether the file refuses the LUN: Open then
	// fails with ErrBlacklisted.
	Blacklisted(wwid, vendor, product string) bool
	// String names the file, for messages.
	String() string
}

// Config describes one multipath device: one LUN of one target reached
// through several portals. The zero value of every optional field is a
// sensible default.
type Config struct {
	// Target is the target IQN; Portals lists "host[:port]" for each
	// path, optionally bound to a network interface or source address:
	// "host[:port]@IFACE", "host[:port]@SOURCE_IP" (see iscsi.ParsePortal).
	// The same portal may appear once per binding.
	Target  string
	Portals []string
	// LUN is the logical unit number (0 is valid).
	LUN uint16
	// PortalLUNs, when not nil, gives the LUN number behind each entry
	// of Portals (same length), for a target that numbers one logical
	// unit differently per portal; LUN is then the first one (see Scan).
	PortalLUNs []uint16
	// Pool, when set, shares the sessions with the other devices opened
	// with it: one session per portal for every LUN of the target (see
	// SessionPool). nil gives the device sessions of its own.
	Pool *SessionPool
	// CHAP, InitiatorName and InitiatorAlias are passed to every
	// session: the host's identity, which arrays map LUNs to.
	CHAP           *iscsi.CHAP
	InitiatorName  string
	InitiatorAlias string
	Negotiation    iscsi.Negotiation
	// NOPInterval and NOPTimeout tune the sessions' NOP pings for fast
	// failover: defaults 1 s and 2 s, so a silent path is failed within
	// 3 s. Negative disables pings.
	NOPInterval, NOPTimeout time.Duration
	// LoginTimeout bounds one login, at Open and at every reconnection
	// attempt. Default: PollingInterval, within [1 s, 15 s].
	LoginTimeout time.Duration
	// ReconnectBackoff caps the wait between a failed session's
	// reconnection attempts. Default: PollingInterval.
	ReconnectBackoff time.Duration
	// ReplacementTimeout is how long a command sent while its path's
	// session is being reinstated waits for the new session before it
	// fails over (open-iscsi's node.session.timeo.replacement_timeout).
	// Default 0: it fails over at once, which is what a device with
	// other paths wants; a single-path device may prefer to wait.
	ReplacementTimeout time.Duration
	// Dial opens TCP connections; nil uses net.Dialer. Whatever it
	// returns, a *net.TCPConn is switched to abortive close (SO_LINGER 0).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Settings are the multipath tunables; the fields set here override
	// File.
	Settings
	// Selector, when set, replaces the one PathSelector names. Each
	// device needs its own Selector value.
	Selector Selector
	// File is a parsed multipath.conf (see package multipath/conf), or
	// nil.
	File ConfigFile
	// PRKeysFile is the prkeys file of reservation_key "file"; default
	// DefaultPRKeysFile.
	PRKeysFile string
	// IOTimeout: a path with I/O in flight that completes nothing for
	// this long has its connection dropped, so that the I/O is retried on
	// another path (the SCSI command timer). Default 30 s; negative
	// disables.
	IOTimeout time.Duration
	// RetryLimit bounds the retries of transient conditions (UNIT
	// ATTENTION, BUSY, …) per I/O before the path is failed. Default 5.
	RetryLimit int

	// Logger receives state changes; nil discards.
	Logger *slog.Logger
	// OnEvent, when set, is called for every state change, in order, from
	// one goroutine; it may block only briefly.
	OnEvent func(Event)
}

func (c Config) validate() error {
	if c.Target == "" {
		return errors.New("multipath: Config.Target is empty")
	}
	if len(c.Portals) == 0 {
		return errors.New("multipath: Config.Portals is empty")
	}
	if c.PortalLUNs != nil && len(c.PortalLUNs) != len(c.Portals) {
		return fmt.Errorf("multipath: %d PortalLUNs for %d Portals", len(c.PortalLUNs), len(c.Portals))
	}
	seen := map[string]bool{}
	for _, p := range c.Portals {
		if _, _, err := iscsi.ParsePortal(p); err != nil {
			return fmt.Errorf("multipath: %w", err)
		}
		if seen[p] {
			return fmt.Errorf("multipath: portal %s listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

// lunAt returns the LUN number behind Portals[i].
func (c Config) lunAt(i int) uint16 {
	if c.PortalLUNs != nil {
		return c.PortalLUNs[i]
	}
	return c.LUN
}

// withDefaults fills the non-multipath defaults; Settings are resolved
// once the LUN's identity is known (resolve).
func (c Config) withDefaults() Config {
	if c.InitiatorName == "" {
		c.InitiatorName = iscsi.DefaultInitiatorName()
	}
	if c.NOPInterval == 0 {
		c.NOPInterval = time.Second
	}
	if c.NOPTimeout == 0 {
		c.NOPTimeout = 2 * time.Second
	}
	if c.IOTimeout == 0 {
		c.IOTimeout = 30 * time.Second
	}
	if c.RetryLimit <= 0 {
		c.RetryLimit = 5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// early returns the settings known before any path is inquired: what
// the built-in defaults, the file's Global settings and Config say. They size
// the login timeouts.
func (c Config) early() Settings {
	s := Settings{}
	if c.File != nil {
		s = c.File.Global()
	}
	return s.Overlay(c.Settings).WithDefaults()
}

// loginTimeout is LoginTimeout or its default.
func (c Config) loginTimeout() time.Duration {
	if c.LoginTimeout > 0 {
		return c.LoginTimeout
	}
	return min(max(c.early().PollingInterval, time.Second), 15*time.Second)
}

func (c Config) reconnectBackoff() time.Duration {
	if c.ReconnectBackoff > 0 {
		return c.ReconnectBackoff
	}
	return c.early().PollingInterval
}

// resolve layers the settings for a LUN: built-in defaults < file
// defaults < matching devices entries < overrides < matching multipaths
// entry < Config.
func (c Config) resolve(wwid, vendor, product string) Settings {
	s := Settings{}
	if c.File != nil {
		s = c.File.Lookup(wwid, vendor, product)
	}
	return s.Overlay(c.Settings).WithDefaults()
}
