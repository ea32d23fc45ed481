package iscsi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// DefaultPort is the iSCSI well-known port.
const DefaultPort = "3260"

// Config describes one session to one target portal. The zero value of each
// optional field is a sensible default.
type Config struct {
	// Portal is "host[:port]"; the port defaults to 3260. A binding
	// suffix, "host[:port]@IFACE" or "@SOURCE_IP" (see ParsePortal),
	// sets Bind when Bind is zero.
	Portal string
	// TargetName is the target IQN; empty for a discovery session.
	TargetName string
	// InitiatorName defaults to iqn.2026-11.dev.gomp:<hostname>; a host
	// should pass its one identity (see ReadInitiatorName), since arrays
	// map LUNs to initiator names.
	InitiatorName string
	// InitiatorAlias, when set, is declared at login (RFC 7143 §13.6).
	InitiatorAlias string
	// CHAP enables authentication; nil offers AuthMethod=None only.
	CHAP *CHAP
	// Negotiation holds the operational proposals.
	Negotiation Negotiation
	// ISID is the initiator session id; zero picks a random-format ISID.
	// Each path to a target must use a distinct ISID.
	ISID pdu.ISID
	// Bind ties the TCP connections to a network interface or source
	// address. It is ignored when Dial is set.
	Bind Binding
	// Dial opens the TCP connection; nil uses Bind's net.Dialer with
	// TCP_NODELAY.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LoginTimeout bounds one login; default 15 s.
	LoginTimeout time.Duration
	// NOPInterval and NOPTimeout: a NOP-Out ping every NOPInterval; no
	// answer and no other traffic within NOPTimeout fails the connection.
	// Defaults 5 s and 5 s, as open-iscsi; negative disables pings.
	NOPInterval, NOPTimeout time.Duration
	// ReplacementTimeout: how long commands wait for a failed session to
	// be reinstated before they fail with ErrConnection. Zero fails them at
	// once, which is what multipath wants.
	ReplacementTimeout time.Duration
	// Recover enables ERL0 session reinstatement after a connection loss.
	// Off, a lost connection closes the session.
	Recover bool
	// MaxRecoveryBackoff caps the wait between reinstatement attempts;
	// default 30 s.
	MaxRecoveryBackoff time.Duration
	// Logger receives state changes; nil discards.
	Logger *slog.Logger

	// OnUnitAttention, when set, is called with the LUN and additional
	// sense code of every UNIT ATTENTION a command meets (before Do
	// retries it), e.g. 0x3F0E REPORTED LUNS DATA HAS CHANGED or 0x2A09
	// CAPACITY DATA HAS CHANGED. It runs on the goroutine of the command
	// and must not block.
	OnUnitAttention func(lun uint16, code scsi.AdditionalSense)
}

func (c Config) withDefaults() Config {
	if c.InitiatorName == "" {
		c.InitiatorName = DefaultInitiatorName()
	}
	if addr, b, err := ParsePortal(c.Portal); err == nil && !b.IsZero() {
		c.Portal = addr
		if c.Bind.IsZero() {
			c.Bind = b
		}
	}
	c.Portal = withPort(c.Portal)
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = 15 * time.Second
	}
	if c.NOPInterval == 0 {
		c.NOPInterval = 5 * time.Second
	}
	if c.NOPTimeout == 0 {
		c.NOPTimeout = 5 * time.Second
	}
	if c.MaxRecoveryBackoff <= 0 {
		c.MaxRecoveryBackoff = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Dial == nil {
		c.Dial = c.Bind.dialNoDelay
	}
	if c.ISID == (pdu.ISID{}) {
		c.ISID = RandomISID()
	}
	return c
}

// DefaultInitiatorName returns iqn.2026-11.dev.gomp:<hostname>.
func DefaultInitiatorName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return "iqn.2026-11.dev.gomp:" + strings.ToLower(host)
}

// RandomISID returns an ISID of the Random format (RFC 7143 §11.12.5:
// T=10b, A+B+C random, D=qualifier).
func RandomISID() pdu.ISID {
	var id pdu.ISID
	_, _ = rand.Read(id[:])
	id[0] = pdu.ISIDTypeRandom | id[0]&0x3f
	return id
}

// withPort adds the default port to a portal without one.
func withPort(portal string) string {
	if _, _, err := net.SplitHostPort(portal); err == nil {
		return portal
	}
	if strings.HasPrefix(portal, "[") && strings.HasSuffix(portal, "]") {
		return portal + ":" + DefaultPort
	}
	if strings.Count(portal, ":") > 1 { // bare IPv6
		return "[" + portal + "]:" + DefaultPort
	}
	return portal + ":" + DefaultPort
}

func (b Binding) dialNoDelay(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := b.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return c, nil
}
