package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/chaostest"
)

// tuningArgs sets every tuning flag to a value unlike its default.
var tuningArgs = []string{"--digest", "crc32c,none", "--data-digest", "none", "--nop-interval", "700ms",
	"--nop-timeout", "3", "--login-timeout", "4s", "--command-timeout", "off", "--replacement-timeout", "9s"}

// TestTuningFlagsReachConfig: each flag lands in multipath.Config, on the
// command line and replayed from a node record.
func TestTuningFlagsReachConfig(t *testing.T) {
	check := func(o *attachOpts) {
		t.Helper()
		cfg, err := o.mpConfig(&globalOpts{}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"CRC32C", "None"}, cfg.Negotiation.HeaderDigest)
		require.Equal(t, []string{"None"}, cfg.Negotiation.DataDigest)
		require.Equal(t, 700*time.Millisecond, cfg.NOPInterval)
		require.Equal(t, 3*time.Second, cfg.NOPTimeout)
		require.Equal(t, 4*time.Second, cfg.LoginTimeout)
		require.Equal(t, time.Duration(-1), cfg.IOTimeout, "off disables the command timer")
		require.Equal(t, 9*time.Second, cfg.ReplacementTimeout)
	}
	base := []string{"--target", "iqn.2026-11.dev.gomp:t", "--portal", "127.0.0.1", "--listen", "unix:/tmp/x.nbd",
		"--config", "/dev/null"}
	parse := func(args []string) *attachOpts {
		o := &attachOpts{}
		fs := recordFlagSet(o)
		require.NoError(t, fs.Parse(args))
		return o
	}
	check(parse(append(base, tuningArgs...)))

	// Unset flags leave the library defaults.
	cfg, err := parse(base).mpConfig(&globalOpts{}, nil)
	require.NoError(t, err)
	require.Nil(t, cfg.Negotiation.HeaderDigest)
	require.Zero(t, cfg.NOPInterval)
	require.Zero(t, cfg.IOTimeout)
	require.Zero(t, cfg.ReplacementTimeout)

	// gomp node add records them; gomp attach --node replays them.
	state := t.TempDir()
	code, _, stderr := runCLI(t, append(append([]string{"node", "add", "tuned", "--state-dir", state}, base...), tuningArgs...)...)
	require.Equal(t, exitOK, code, stderr)
	code, out, stderr := runCLI(t, "node", "show", "tuned", "--state-dir", state)
	require.Equal(t, exitOK, code, stderr)
	for _, line := range []string{"digest = crc32c,none", "data-digest = none", "nop-interval = 700ms",
		"nop-timeout = 3s", "login-timeout = 4s", "command-timeout = off", "replacement-timeout = 9s"} {
		require.Contains(t, out, "\n"+line+"\n")
	}
	o := &attachOpts{node: "tuned", stateDir: state}
	rec, err := o.fromNode(newAttachCmd(&globalOpts{}).Flags())
	require.NoError(t, err)
	check(rec)
}

func TestTuningFlagsRefuseBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--digest", "md5"}, {"--digest", "crc32c,crc32c"}, {"--header-digest", "none,crc32c,none"},
		{"--nop-interval", "-1s"}, {"--nop-timeout", "off"}, {"--login-timeout", "0"},
		{"--command-timeout", "soon"}, {"--replacement-timeout", "-5"},
	} {
		code, _, stderr := runCLI(t, append([]string{"attach", "--target", "t", "--portal", "127.0.0.1",
			"--listen", "unix:/tmp/x"}, args...)...)
		require.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, args[0], "the error names the flag")
	}
	for _, v := range []string{"none", "CRC32C", "crc32c,none", "None,CRC32C"} {
		require.NoError(t, checkSetting("digest", v), v)
	}
	require.Error(t, checkSetting("nop-interval", "never"))
	require.NoError(t, checkSetting("nop-interval", "off"))
}

// labTune is the lab's settings for the tuning tests.
type labTune struct{ p1, p2, target string }

func newLabTune(t *testing.T) labTune {
	lab(t)
	return labTune{os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")}
}

// blackhole drops every packet from src to portal until the test ends
// (nft; other tests' sessions, from other source addresses, pass).
func blackhole(t *testing.T, src, portal string) { blackholeUntil(t, src, portal) }

// blackholeUntil is blackhole, and returns a function that lifts it early.
func blackholeUntil(t *testing.T, src, portal string) (release func()) {
	t.Helper()
	needTool(t, "nft")
	host, port, err := net.SplitHostPort(portal)
	require.NoError(t, err)
	table := fmt.Sprintf("gomp_tune_%d_%s", os.Getpid(), strings.ReplaceAll(src, ".", "_"))
	for _, c := range [][]string{{"add", "table", "inet", table},
		{"add", "chain", "inet", table, "out", "{ type filter hook output priority 0; }"},
		{"add", "rule", "inet", table, "out", "ip", "saddr", src, "ip", "daddr", host, "tcp", "dport", port, "drop"}} {
		out, err := exec.Command("nft", c...).CombinedOutput()
		require.NoError(t, err, "nft %v: %s", c, out)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = exec.Command("nft", "delete", "table", "inet", table).Run() }) }
	t.Cleanup(release)
	return release
}

// labStatus returns the one device's status.
func labStatus(t *testing.T, ctl string) control.Status {
	t.Helper()
	code, out, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st, 1)
	return st[0]
}

// pathState returns the dm state of the path to portal (PORTAL@SOURCE).
func pathState(st control.Status, portal string) string {
	for _, g := range st.Device.Groups {
		for _, p := range g.Paths {
			if pathLabel(p) == portal {
				return p.DMState
			}
		}
	}
	return "missing"
}

// qemuIO runs qemu-io commands on the device's NBD socket.
func qemuIO(t *testing.T, sock string, cmds ...string) (string, error) {
	t.Helper()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, "nbd+unix:///?socket="+sock)...).CombinedOutput()
	return string(out), err
}

// TestLabDigestFlag: --digest crc32c (required) logs in to the lab target,
// which offers CRC32C, and moves data with both digests on; the CHAP
// target keeps tgtd's default (no digests) and the login is refused.
func TestLabDigestFlag(t *testing.T) {
	l := newLabTune(t)
	needTool(t, "qemu-io")
	// LUN region [720, 722) MiB: see TestLabAttachWholeStack.
	_, sock, _, _ := startAttach(t, "--target", l.target, "--portal", l.p1, "--portal", l.p2, "--lun", "1",
		"--digest", "crc32c")
	out, err := qemuIO(t, sock, "write -P 0x5a 720M 2M", "read -P 0x5a 720M 2M")
	require.NoError(t, err, out)
	require.NotContains(t, out, "Pattern verification failed")

	code, _, stderr := runCLI(t, "attach", "--target", os.Getenv("GOMP_LAB_CHAP_TARGET"), "--portal", l.p1,
		"--lun", "1", "--chap-user", os.Getenv("GOMP_LAB_CHAP_USER"),
		"--chap-secret-file", os.Getenv("GOMP_LAB_CHAP_SECRET_FILE"), "--digest", "crc32c",
		"--listen", "unix:"+filepath.Join(t.TempDir(), "x.nbd"), "--control-dir", t.TempDir())
	require.Equal(t, exitFailure, code, stderr)
	require.Contains(t, stderr, "Digest", "the error names the digest the target refused")
}

// slowChecker writes a multipath.conf whose checker looks at a path only
// every 30 s, so that what fails a path within seconds is the session's
// own timers.
func slowChecker(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "multipath.conf")
	require.NoError(t, os.WriteFile(path, []byte("defaults {\n\tpolling_interval 30\n}\n"), 0o600))
	return path
}

// silentPathIO attaches with args and a slow checker, silences the second
// portal and moves 4 MiB at off through both paths; it returns how long
// the I/O took, the silent path having been failed.
func silentPathIO(t *testing.T, src1, src2 string, offMiB int, args ...string) time.Duration {
	l := newLabTune(t)
	needTool(t, "qemu-io")
	p1, p2 := l.p1+"@"+src1, l.p2+"@"+src2
	ctl, sock, _, _ := startAttach(t, append([]string{"--target", l.target, "--portal", p1, "--portal", p2,
		"--lun", "1", "--config", slowChecker(t)}, args...)...)
	require.Equal(t, "active", pathState(labStatus(t, ctl), p2))
	blackhole(t, src2, l.p2)
	start := time.Now()
	var cmds []string
	for i := range 4 {
		cmds = append(cmds, fmt.Sprintf("aio_write -P 0x6b %dM 1M", offMiB+i))
	}
	out, err := qemuIO(t, sock, append(cmds, "aio_flush", fmt.Sprintf("read -P 0x6b %dM 4M", offMiB))...)
	took := time.Since(start)
	require.NoError(t, err, out)
	require.NotContains(t, out, "failed")
	require.Equal(t, "failed", pathState(labStatus(t, ctl), p2))
	require.Equal(t, "active", pathState(labStatus(t, ctl), p1))
	return took
}

// TestLabNOPFlags: with --nop-interval 500ms --nop-timeout 1s and the
// command timer off, I/O caught on a path whose portal goes silent is
// retried on the other path once the NOP ping fails the session, about
// 1.5 s later. (The checker looks every 30 s here: with pings off the
// same I/O waits a minute.)
func TestLabNOPFlags(t *testing.T) {
	took := silentPathIO(t, "127.0.0.61", "127.0.0.62", 724,
		"--nop-interval", "500ms", "--nop-timeout", "1s", "--command-timeout", "off")
	require.Less(t, took, 8*time.Second, "the NOP ping fails the silent path")
}

// TestLabTimeoutFlags: --login-timeout 1s brings the device up within
// about a second with one portal silent (the default waits 5 s), the path
// failed; --command-timeout and --replacement-timeout are accepted and
// I/O runs on the other path.
func TestLabTimeoutFlags(t *testing.T) {
	l := newLabTune(t)
	needTool(t, "qemu-io")
	p1, p2 := l.p1+"@127.0.0.63", l.p2+"@127.0.0.64"
	blackhole(t, "127.0.0.64", l.p2)
	start := time.Now()
	ctl, sock, _, _ := startAttach(t, "--target", l.target, "--portal", p1, "--portal", p2, "--lun", "1",
		"--login-timeout", "1s", "--command-timeout", "5s", "--replacement-timeout", "2s")
	require.Less(t, time.Since(start), 4*time.Second, "a silent portal's login gives up after --login-timeout")
	st := labStatus(t, ctl)
	require.Equal(t, "failed", pathState(st, p2))
	require.Equal(t, "active", pathState(st, p1))
	out, err := qemuIO(t, sock, "write -P 0x3c 722M 1M", "read -P 0x3c 722M 1M")
	require.NoError(t, err, out)
}

// TestLabReplacementTimeoutFlag: a read sent while the only path's session
// is down (its connection closed by the target, the portal silent) waits
// for the session to be reinstated with --replacement-timeout 20s, and
// fails at once with the default 0 (no_path_retry fail: nothing queues).
func TestLabReplacementTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		name, timeout, src string
		waits              bool
	}{{"20s", "20s", "127.0.0.67", true}, {"0", "0", "127.0.0.68", false}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLabTune(t)
			needTool(t, "qemu-io")
			needTool(t, "tgtadm")
			_, sock, _, _ := startAttach(t, "--target", l.target, "--portal", l.p1+"@"+tc.src, "--lun", "1",
				"--no-path-retry", "fail", "--nop-interval", "off", "--login-timeout", "1s",
				"--replacement-timeout", tc.timeout)
			release := blackholeUntil(t, tc.src, l.p1)
			n, err := chaostest.Tgtd{CTL: os.Getenv("GOMP_LAB_CTL"), Target: l.target}.KillFrom(tc.src)
			require.NoError(t, err)
			require.Equal(t, 1, n, "one connection from %s", tc.src)
			time.Sleep(200 * time.Millisecond) // the session sees the close

			done := make(chan string, 1)
			go func() {
				out, err := qemuIO(t, sock, "read 734M 64k")
				done <- fmt.Sprintf("%v: %s", err, out)
			}()
			if !tc.waits {
				select {
				case out := <-done:
					require.Contains(t, out, "read failed", "without a replacement timeout the read fails")
				case <-time.After(10 * time.Second):
					t.Fatal("the read waits without a replacement timeout")
				}
				return
			}
			select {
			case out := <-done:
				t.Fatalf("the read ended while the session was down: %s", out)
			case <-time.After(2 * time.Second):
			}
			release()
			select {
			case out := <-done:
				require.Contains(t, out, "<nil>: read 65536/65536 bytes", "the read completes once the session is back")
			case <-time.After(18 * time.Second):
				t.Fatal("the read did not complete after the session came back")
			}
		})
	}
}
