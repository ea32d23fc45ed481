package iscsi

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// Test fixtures: every session test talks to scripted fake targets
// (internal/iscsitest) over in-memory pipes; nothing touches the network.
const (
	fakePortal    = "fake:3260"
	fakeLUN       = 1
	fakeBlockSize = 512
	fakeBlocks    = 1 << 15 // 16 MiB
	testInitiator = "iqn.2026-11.dev.gomp:unit-test"
)

// fakeNet is an in-memory network of fake targets. Its Dial routes an
// address to the target registered there: it makes a iscsitest.Pipe and
// serves the target's end in a goroutine that cleanup waits for.
//
// At cleanup it closes every target, waits for every Serve to return, and
// requires that no connection recorded an initiator protocol violation
// (iscsitest.Conn.Stats().Violations): every test checks that the initiator
// behaved, faults included.
type fakeNet struct {
	t   testing.TB
	log *lockedBuffer
	wg  sync.WaitGroup // Serve goroutines

	mu      sync.Mutex // guards the following
	targets map[string]*iscsitest.Target
	conns   []*iscsitest.Conn // every connection served, oldest first
	dialed  []string          // every address dialed
	refuse  int               // dials still to refuse
}

func newFakeNet(t testing.TB) *fakeNet {
	n := &fakeNet{t: t, log: &lockedBuffer{}, targets: map[string]*iscsitest.Target{}}
	t.Cleanup(n.cleanup)
	return n
}

func (n *fakeNet) cleanup() {
	n.mu.Lock()
	tgs := make([]*iscsitest.Target, 0, len(n.targets))
	for _, tg := range n.targets {
		tgs = append(tgs, tg)
	}
	n.mu.Unlock()
	for _, tg := range tgs {
		tg.Close()
	}
	n.wg.Wait()
	if n.t.Failed() {
		n.t.Logf("initiator log:\n%s", n.log.String())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, c := range n.conns {
		require.Empty(n.t, c.Stats().Violations, "connection %d", i)
	}
}

// add serves a target built from cfg at addr. Its OnConnect hook is
// wrapped to record each connection.
func (n *fakeNet) add(addr string, cfg iscsitest.Config) *iscsitest.Target {
	inner := cfg.Hooks.OnConnect
	cfg.Hooks.OnConnect = func(c *iscsitest.Conn) {
		n.mu.Lock()
		n.conns = append(n.conns, c)
		n.mu.Unlock()
		if inner != nil {
			inner(c)
		}
	}
	tg := iscsitest.New(cfg)
	n.mu.Lock()
	n.targets[addr] = tg
	n.mu.Unlock()
	return tg
}

// Dial is a Config.Dial over the fake network.
func (n *fakeNet) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	n.dialed = append(n.dialed, addr)
	tg := n.targets[addr]
	refused := n.refuse > 0 || tg == nil
	if n.refuse > 0 {
		n.refuse--
	}
	n.mu.Unlock()
	if refused {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	ini, tgt := iscsitest.Pipe()
	n.wg.Go(func() { _ = tg.Serve(tgt) })
	return ini, nil
}

// refuseDials makes the next k dials fail with ECONNREFUSED.
func (n *fakeNet) refuseDials(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.refuse = k
}

// Conns returns every connection served so far, oldest first.
func (n *fakeNet) Conns() []*iscsitest.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*iscsitest.Conn(nil), n.conns...)
}

// Dialed returns the addresses dialed so far.
func (n *fakeNet) Dialed() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dialed...)
}

// config returns a session Config for the target at portal. Pings are off
// (tests that want them turn them on) and the log goes to n.log.
func (n *fakeNet) config(portal, targetName string) Config {
	return Config{Portal: portal, TargetName: targetName, InitiatorName: testInitiator,
		Dial: n.Dial, NOPInterval: -1,
		Logger: slog.New(slog.NewTextHandler(n.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// login dials a session with cfg and closes it at cleanup.
func (n *fakeNet) login(t testing.TB, cfg Config) *Session {
	t.Helper()
	s, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// fake is the common case: one target at fakePortal.
type fake struct {
	*fakeNet
	tg *iscsitest.Target
}

// newFake serves one target built from cfg at fakePortal; without LUNs
// it gets a 16 MiB LUN 1.
func newFake(t testing.TB, cfg iscsitest.Config) *fake {
	if cfg.LUNs == nil {
		cfg.LUNs = map[uint16]*iscsitest.LUN{fakeLUN: iscsitest.NewLUN(fakeBlocks, fakeBlockSize)}
	}
	n := newFakeNet(t)
	return &fake{fakeNet: n, tg: n.add(fakePortal, cfg)}
}

func (f *fake) cfg() Config { return f.config(fakePortal, f.tg.Name()) }

// dial logs in with f.cfg() changed by mods.
func (f *fake) dial(t testing.TB, mods ...func(*Config)) *Session {
	t.Helper()
	cfg := f.cfg()
	for _, m := range mods {
		m(&cfg)
	}
	return f.login(t, cfg)
}

// conn returns the latest connection.
func (f *fake) conn(t testing.TB) *iscsitest.Conn {
	t.Helper()
	cs := f.Conns()
	require.NotEmpty(t, cs)
	return cs[len(cs)-1]
}

func (f *fake) lun() *iscsitest.LUN { return f.tg.LUN(fakeLUN) }

// readCmd and writeCmd build READ(16) and WRITE(16) of LUN 1 at lba.
func readCmd(lba uint64, buf []byte) *Command {
	cdb := scsi.Read16(lba, uint32(len(buf)/fakeBlockSize), false)
	return &Command{LUN: fakeLUN, CDB: cdb[:], Read: buf}
}

func writeCmd(lba uint64, buf []byte) *Command {
	cdb := scsi.Write16(lba, uint32(len(buf)/fakeBlockSize), false)
	return &Command{LUN: fakeLUN, CDB: cdb[:], Write: buf}
}

// pattern returns n bytes that differ with seed and position.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed ^ byte(i) ^ byte(i>>8)*7 ^ byte(i>>16)*13
	}
	return b
}

// atTarget returns the n bytes at byte offset off of the target's LUN 1.
func (f *fake) atTarget(t testing.TB, off int64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := f.lun().ReadAt(b, off)
	require.NoError(t, err)
	return b
}

// isCDB reports whether p is a SCSI command whose CDB starts with op.
func isCDB(p pdu.PDU, op scsi.Opcode) bool {
	c, ok := p.(*pdu.SCSICommand)
	return ok && len(c.CDB) > 0 && c.CDB[0] == byte(op)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (the log).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ctxT returns a context cancelled at the end of the test.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// iscsiGoroutines returns the stacks of goroutines running code of this
// package (tests excluded).
func iscsiGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		ours := strings.Contains(g, "gomp/iscsi.(*") || strings.Contains(g, "gomp/iscsi.loginTo")
		if ours && !strings.Contains(g, "internal/iscsitest.") {
			out = append(out, g)
		}
	}
	return out
}

// requireNoGoroutines fails unless every goroutine running code of
// package iscsi has ended: Close promises that none is left behind. A
// goroutine that has signalled its WaitGroup may still be on its way out,
// so the check lets the scheduler run for up to a second first.
func requireNoGoroutines(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); len(iscsiGoroutines()) > 0 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	g := iscsiGoroutines()
	require.Empty(t, g, "%d goroutines left:\n%s", len(g), strings.Join(g, "\n\n"))
}
