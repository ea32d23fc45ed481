package iscsitest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/pdu"
)

// Defaults applied to a zero Config field.
const (
	DefaultCmdSNWindow              = 32
	DefaultMaxRecvDataSegmentLength = 65536
	DefaultMaxBurstLength           = 262144
	DefaultFirstBurstLength         = 65536
	DefaultName                     = "iqn.2024-01.dev.gomp:target"
)

// WindowClosed as Config.MaxCmdSNWindow (or Conn.SetCmdSNWindow) closes the
// command window: MaxCmdSN = ExpCmdSN-1, so only immediate commands pass.
const WindowClosed = -1

// ErrClosed is returned by Serve and Listen after Close.
var ErrClosed = errors.New("iscsitest: closed")

// Config describes a Target. The zero value is a valid target with no LUNs,
// no authentication and RFC 7143 defaults.
type Config struct {
	Name    string   // iSCSI target name; DefaultName if empty
	Alias   string   // TargetAlias, declared at login if set
	Portals []string // "host:port" for SendTargets TargetAddress (tag 1)
	// LUNs maps LUN numbers to devices. A LUN without identity gets one
	// derived from Name and its number.
	LUNs map[uint16]*LUN
	// CHAP, when set, requires CHAP authentication in the security stage.
	CHAP *CHAPConfig
	// MaxCmdSNWindow is MaxCmdSN-ExpCmdSN+1: 0 means DefaultCmdSNWindow,
	// WindowClosed a window of zero.
	MaxCmdSNWindow int
	// Target's declared MaxRecvDataSegmentLength and the values it offers
	// for the minimum-function keys; 0 means the Default constants and,
	// for MaxOutstandingR2T, 1.
	MaxRecvDataSegmentLength int
	MaxBurstLength           int
	FirstBurstLength         int
	MaxOutstandingR2T        int
	ForceInitialR2T          bool // answer InitialR2T=Yes whatever is offered
	NoImmediateData          bool // answer ImmediateData=No whatever is offered
	// Digests lists the HeaderDigest/DataDigest values accepted, in no
	// order (the initiator's order decides); nil means CRC32C and None.
	Digests []string
	// R2TSplit caps the DesiredDataTransferLength of each R2T below
	// MaxBurstLength, to force several R2Ts per command; 0: no cap.
	R2TSplit int
	// DataInSplit caps each Data-In data segment below the initiator's
	// MaxRecvDataSegmentLength; 0: no cap.
	DataInSplit int
	// PhaseCollapse sends GOOD status in the last Data-In (S bit) instead
	// of a separate SCSI Response.
	PhaseCollapse bool
	// NOPInInterval, when positive, makes the target ping the initiator
	// with a NOP-In carrying a Target Transfer Tag at that interval.
	NOPInInterval time.Duration
	// Redirect answers every normal-session login with "target moved
	// temporarily" (0x0101), or permanently if RedirectPermanent, and
	// TargetAddress=Redirect.
	Redirect          string
	RedirectPermanent bool
	// UnitAttentionOnLogin reports UNIT ATTENTION, POWER ON OR RESET
	// (29/00) once per LUN, on the first command after login other than
	// INQUIRY, REPORT LUNS and REQUEST SENSE.
	UnitAttentionOnLogin bool
	// PortGroup (default 1) and PortGroupState (asymmetric access state,
	// default 0 active/optimized; Target.SetPortGroupState changes it)
	// answer REPORT TARGET PORT GROUPS; the relative target port is
	// RelativePort (default 1).
	PortGroup      uint16
	PortGroupState uint8
	RelativePort   uint16
	// InitialStatSN is the StatSN of each connection's first login
	// response.
	InitialStatSN uint32
	// TrickleInterval is the pause before each byte of a PDU a hook
	// sends with the Trickle action; default one second.
	TrickleInterval time.Duration
	Hooks           Hooks
	Logger          *slog.Logger // nil: discard
}

// CHAPConfig holds CHAP credentials (RFC 7143 §12.1.3, RFC 1994).
type CHAPConfig struct {
	User   string // expected CHAP_N
	Secret string // the initiator's secret
	// MutualUser and MutualSecret answer an initiator that challenges the
	// target; without MutualSecret such a login fails.
	MutualUser   string
	MutualSecret string
	// Algorithms the target accepts, CHAP_A values: 5 (MD5), 6 (SHA-1),
	// 7 (SHA-256), 8 (SHA3-256). nil means MD5 only.
	Algorithms []byte
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.MaxCmdSNWindow == 0 {
		c.MaxCmdSNWindow = DefaultCmdSNWindow
	}
	def(&c.MaxRecvDataSegmentLength, DefaultMaxRecvDataSegmentLength)
	def(&c.MaxBurstLength, DefaultMaxBurstLength)
	def(&c.FirstBurstLength, DefaultFirstBurstLength)
	def(&c.MaxOutstandingR2T, 1)
	if c.Digests == nil {
		c.Digests = []string{"CRC32C", "None"}
	}
	if c.PortGroup == 0 {
		c.PortGroup = 1
	}
	if c.TrickleInterval <= 0 {
		c.TrickleInterval = time.Second
	}
	if c.RelativePort == 0 {
		c.RelativePort = 1
	}
	if c.CHAP != nil && len(c.CHAP.Algorithms) == 0 {
		chap := *c.CHAP
		chap.Algorithms = []byte{chapMD5}
		c.CHAP = &chap
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Target is a scripted, in-process iSCSI target. Its methods are safe for
// concurrent use.
type Target struct {
	cfg     Config
	log     *slog.Logger
	wg      sync.WaitGroup // Listen's Serve goroutines
	pgState atomic.Uint32  // asymmetric access state REPORT TARGET PORT GROUPS answers

	mu        sync.Mutex // guards the following
	conns     map[*Conn]struct{}
	listeners map[net.Listener]struct{}
	tsih      uint16 // last TSIH given out
	chapSeq   uint64 // challenges issued
	lastID    uint64 // last Conn id
	closed    bool
}

// New returns a Target for cfg. LUNs without an identity get one now.
func New(cfg Config) *Target {
	cfg = cfg.withDefaults()
	for n, l := range cfg.LUNs {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", cfg.Name, n)
		l.adopt(h.Sum64())
	}
	t := &Target{cfg: cfg, log: cfg.Logger,
		conns: make(map[*Conn]struct{}), listeners: make(map[net.Listener]struct{})}
	t.pgState.Store(uint32(cfg.PortGroupState))
	return t
}

// SetPortGroupState changes the asymmetric access state of the target's
// port group and announces it as LIO does: ASYMMETRIC ACCESS STATE
// CHANGED (2A/06) on the next command to each LUN of every connection.
// The state is only reported (REPORT TARGET PORT GROUPS): commands are
// not refused in standby or unavailable.
func (t *Target) SetPortGroupState(state uint8) {
	t.pgState.Store(uint32(state))
	for _, c := range t.Conns() {
		for n := range t.cfg.LUNs {
			c.UnitAttention(n, 0x2A, 0x06)
		}
	}
}

// Name returns the target's iSCSI name.
func (t *Target) Name() string { return t.cfg.Name }

// LUN returns the device at LUN n, or nil.
func (t *Target) LUN(n uint16) *LUN { return t.cfg.LUNs[n] }

// Serve serves one connection until logout, until the initiator closes it,
// or until Close, and closes it. It returns nil in those cases, a
// *LoginRejectedError when it refused the login, and otherwise the error
// that ended the connection (a protocol or digest error). The goroutines it
// starts have ended when it returns.
func (t *Target) Serve(nc net.Conn) error {
	c := newConn(t, nc)
	if !t.track(c) {
		nc.Close()
		return ErrClosed
	}
	defer t.untrack(c)
	return c.serve()
}

// Listen accepts connections on ln and serves each in its own goroutine
// until ln fails or Close is called. It returns nil after Close.
func (t *Target) Listen(ln net.Listener) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	t.listeners[ln] = struct{}{}
	t.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if t.isClosed() {
				return nil
			}
			return fmt.Errorf("iscsitest: accept: %w", err)
		}
		if !t.goServe(nc) {
			return nil
		}
	}
}

// Dial connects to the target in process, whatever the address: it
// serves the target's end of a Pipe in a goroutine Close waits for and
// returns the initiator's end. It fits iscsi.Config.Dial and
// multipath.Config.Dial, so that every portal reaches this target.
func (t *Target) Dial(_ context.Context, _, _ string) (net.Conn, error) {
	initiator, target := Pipe()
	if !t.goServe(target) {
		return nil, ErrClosed
	}
	return initiator, nil
}

// goServe serves nc in a goroutine Close waits for. The WaitGroup is
// added to under mu, so never concurrently with Close's Wait.
func (t *Target) goServe(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		nc.Close()
		return false
	}
	t.wg.Go(func() {
		if err := t.Serve(nc); err != nil {
			t.log.Debug("serve", "remote", nc.RemoteAddr().String(), "err", err)
		}
	})
	return true
}

// Close stops every listener, kills every connection, and waits for the
// connections Listen started to finish. Serve calls made by the caller
// return on their own.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	for ln := range t.listeners {
		ln.Close()
	}
	conns := t.connsLocked()
	t.mu.Unlock()
	for _, c := range conns {
		c.Kill()
	}
	t.wg.Wait()
	return nil
}

// Conns returns the connections being served, oldest first.
func (t *Target) Conns() []*Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.connsLocked()
}

func (t *Target) connsLocked() []*Conn {
	cs := make([]*Conn, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id })
	return cs
}

func (t *Target) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Target) track(c *Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.lastID++
	c.id = t.lastID
	t.conns[c] = struct{}{}
	return true
}

func (t *Target) untrack(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.conns, c)
}

// newTSIH returns the next nonzero session handle.
func (t *Target) newTSIH() uint16 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tsih++
	if t.tsih == 0 {
		t.tsih = 1
	}
	return t.tsih
}

// nextChallenge returns a counter for deterministic CHAP challenges.
func (t *Target) nextChallenge() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.chapSeq++
	return t.chapSeq
}

// LoginRejectedError is returned by Serve when the target ended a login
// with a non-success status.
type LoginRejectedError struct {
	Status pdu.LoginStatus
	Reason string
}

// Error returns a message with the login status in hex and by name, and the reason.
func (e *LoginRejectedError) Error() string {
	return fmt.Sprintf("iscsitest: login rejected with 0x%04x (%v): %s", uint16(e.Status), e.Status, e.Reason)
}
