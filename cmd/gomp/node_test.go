package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"
	"github.com/gomp-dev/gomp/cmd/gomp/internal/node"

	"github.com/stretchr/testify/require"
)

func TestNodeAddLsShowRm(t *testing.T) {
	state := t.TempDir()
	work := t.TempDir()
	t.Chdir(work)
	require.NoError(t, os.WriteFile("lab.secret", []byte("0123456789abcdef"), 0o600))

	code, out, stderr := runCLI(t, "node", "add", "lab", "--state-dir", state, "--startup", "automatic",
		"--target", "iqn.2026-11.dev.gomp:lab", "--portal", "198.18.0.1@lo", "--portal", "198.18.1.1:3261",
		"--nbd", "auto", "--listen", "unix:lab.nbd", "--chap-user", "u", "--chap-secret-file", "lab.secret",
		"--lun", "1", "-v")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "node lab saved in "+filepath.Join(state, "nodes", "lab"))
	fi, err := os.Stat(filepath.Join(state, "nodes", "lab"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	code, out, stderr = runCLI(t, "node", "show", "lab", "--state-dir", state)
	require.Equal(t, exitOK, code, stderr)
	for _, line := range []string{
		"startup = automatic",
		"target = iqn.2026-11.dev.gomp:lab",
		"portal = 198.18.0.1@lo",
		"portal = 198.18.1.1:3261",
		"listen = unix:" + filepath.Join(work, "lab.nbd"),         // made absolute
		"chap-secret-file = " + filepath.Join(work, "lab.secret"), // a reference, made absolute
		"lun = 1",
	} {
		require.Contains(t, out, line+"\n")
	}
	require.NotContains(t, out, "0123456789abcdef", "a record never holds a secret")
	require.NotContains(t, out, "verbose", "global flags are not part of a record")

	require.NoError(t, os.WriteFile("other.secret", []byte("x"), 0o600))
	code, _, stderr = runCLI(t, "node", "add", "spare", "--state-dir", state,
		"--target", "iqn.x", "--portal", "198.18.0.9", "--listen", "unix:/run/x.nbd")
	require.Equal(t, exitOK, code, stderr)

	code, out, stderr = runCLI(t, "node", "ls", "--state-dir", state)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `(?m)^lab\s+automatic\s+iqn.2026-11.dev.gomp:lab\s+198.18.0.1@lo,198.18.1.1:3261$`, out)
	require.Regexp(t, `(?m)^spare\s+manual\s+iqn.x\s+198.18.0.9$`, out)

	code, out, stderr = runCLI(t, "node", "ls", "--json", "--state-dir", state)
	require.Equal(t, exitOK, code, stderr)
	var list []nodeJSON
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 2)
	require.Equal(t, "lab", list[0].Name)
	require.Equal(t, []string{"198.18.0.1@lo", "198.18.1.1:3261"}, list[0].Portals)
	require.Equal(t, []string{"auto"}, list[0].Settings["nbd"])

	// A hand-broken record: named with file and line, the others still listed.
	broken := filepath.Join(state, "nodes", "broken")
	require.NoError(t, os.WriteFile(broken, []byte("startup = automatic\ntarget = iqn.x\nlun = seven\n"), 0o600))
	code, out, stderr = runCLI(t, "node", "ls", "--state-dir", state)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, broken+`:3: lun "seven": not a valid int`)
	require.Contains(t, stderr, "1 of 3 node records could not be read")
	require.Contains(t, out, "lab ")
	require.Contains(t, out, "spare ")
	require.NoError(t, os.WriteFile(broken, []byte("target = iqn.x\nportals = 198.18.0.1\n"), 0o600))
	code, _, stderr = runCLI(t, "node", "show", "broken", "--state-dir", state)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, broken+`:2: unknown key "portals"`)
	require.NoError(t, os.WriteFile(broken, []byte("all = true\n"), 0o600))
	code, _, stderr = runCLI(t, "node", "show", "broken", "--state-dir", state)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, broken+`:1: "all" cannot be set in a node record`)

	code, out, stderr = runCLI(t, "node", "rm", "spare", "--state-dir", state)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "node spare removed\n", out)
	code, _, stderr = runCLI(t, "node", "rm", "spare", "--state-dir", state)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "no such node record")

	// GOMP_STATE_DIR moves the state directory like --state-dir.
	t.Setenv(envStateDir, state)
	code, out, _ = runCLI(t, "node", "show", "lab")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "startup = automatic")
}

func TestNodeAddRefuses(t *testing.T) {
	state := t.TempDir()
	base := []string{"node", "add", "--state-dir", state, "--target", "iqn.x", "--portal", "198.18.0.1", "--listen", "unix:/x"}
	t.Setenv(envCHAPSecret, "from-the-environment")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append(base, "n1", "--chap-user", "u"), "node records keep CHAP secrets in files: give --chap-secret-file"},
		{append(base, "../evil"), `node name "../evil"`},
		{append(base, "n2", "--startup", "sometimes"), `--startup "sometimes"`},
		{[]string{"node", "add", "n3", "--state-dir", state, "--target", "iqn.x"}, "attach needs --target and at least one --portal"},
		{append(base, "n4", "--portal", "198.18.0.2@gomp-nonesuch"), `no network interface "gomp-nonesuch"`},
		{[]string{"node", "add"}, "usage: gomp node add NAME"},
	} {
		code, _, stderr := runCLI(t, tt.args...)
		require.Equal(t, exitUsage, code, "%v: %s", tt.args, stderr)
		require.Contains(t, stderr, tt.want, "%v", tt.args)
	}
	names, err := node.Store{Dir: state}.Names()
	require.NoError(t, err)
	require.Empty(t, names, "a refused record is not saved")
}

// TestOptsFromRecordCommandLineWins: attach --node NAME takes the record's
// flags, and a flag given on the command line replaces the record's.
func TestOptsFromRecordCommandLineWins(t *testing.T) {
	rec := &node.Record{Name: "lab", Startup: node.StartupAutomatic, File: "/s/nodes/lab", Settings: []node.Setting{
		{Key: "target", Value: "iqn.x", Line: 2},
		{Key: "portal", Value: "198.18.0.1@eth1", Line: 3},
		{Key: "portal", Value: "198.18.1.1@eth2", Line: 4},
		{Key: "nbd", Value: "/dev/nbd3", Line: 5},
		{Key: "lun", Value: "2", Line: 6},
	}}
	cmd := newAttachCmd(&globalOpts{})
	require.NoError(t, cmd.ParseFlags([]string{"--portal", "198.18.9.9", "--lun", "4", "--node", "lab"}))
	o, err := optsFromRecord(rec, cmd.Flags())
	require.NoError(t, err)
	require.Equal(t, "iqn.x", o.target)
	require.Equal(t, []string{"198.18.9.9"}, o.portals, "the command line's portals replace the record's")
	require.Equal(t, []int{4}, o.luns)
	require.Equal(t, "/dev/nbd3", o.nbdDev)
	require.Equal(t, "lab", o.node)

	rec.Settings = append(rec.Settings, node.Setting{Key: "connections", Value: "many", Line: 7})
	_, err = optsFromRecord(rec, newAttachCmd(&globalOpts{}).Flags())
	require.ErrorContains(t, err, "/s/nodes/lab:7: ")
}

// notifyListener is a NOTIFY_SOCKET, as systemd listens on for a
// Type=notify service.
func notifyListener(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs
}

// runBackground runs a gomp command line in-process until the test ends.
func runBackground(t *testing.T, args ...string) (out, errb *syncBuffer, done chan error) {
	t.Helper()
	root := newRootCmd()
	out, errb = &syncBuffer{}, &syncBuffer{}
	root.SetOut(out)
	root.SetErr(errb)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- root.ExecuteContext(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Errorf("gomp %v did not stop after cancel", args)
		}
	})
	return out, errb, done
}

func receive(t *testing.T, msgs <-chan string, what string) string {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(60 * time.Second):
		t.Fatalf("no sd_notify datagram (%s)", what)
		return ""
	}
}

// TestLabAttachNodeNotifiesReady: gomp attach --node, as the systemd unit
// runs it: READY=1 reaches NOTIFY_SOCKET only once the device serves NBD;
// "gomp detach NODE" (the unit's ExecStop) detaches it, with STOPPING=1.
func TestLabAttachNodeNotifiesReady(t *testing.T) {
	lab(t)
	needTool(t, "nbdinfo")
	p1, p2, target := os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	state, dir := t.TempDir(), t.TempDir()
	ctl, sock := filepath.Join(dir, "ctl"), filepath.Join(dir, "lab.nbd")
	code, _, stderr := runCLI(t, "node", "add", "labnode", "--state-dir", state, "--target", target,
		"--portal", p1+"@lo", "--portal", p2+"@127.0.0.2", "--lun", "1", "--listen", "unix:"+sock,
		"--control-dir", ctl, "--alias", "labnode-dev")
	require.Equal(t, exitOK, code, stderr)

	msgs := notifyListener(t)
	out, errb, done := runBackground(t, "attach", "--node", "labnode", "--state-dir", state)
	ready := receive(t, msgs, "READY=1")
	require.Contains(t, ready, "READY=1", "first notification; attach stderr: %s", errb.String())
	require.Contains(t, ready, "STATUS=attached labnode-dev")
	// Ready means usable: the NBD socket serves the export right now.
	info, err := exec.Command("nbdinfo", "--size", "nbd+unix:///labnode-dev?socket="+sock).CombinedOutput()
	require.NoError(t, err, "%s", info)
	require.Equal(t, "1073741824", strings.TrimSpace(string(info)))
	require.Contains(t, out.String(), "ready: labnode-dev ")

	// Each path left through its binding, and status says which.
	code, stdout, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Len(t, st, 1)
	require.Equal(t, "labnode", st[0].Exports.Node)
	paths := st[0].Device.Groups[0].Paths
	require.Len(t, paths, 2)
	bound := map[string]string{}
	for _, p := range paths {
		bound[p.Portal] = p.Interface + p.Source
	}
	require.Equal(t, map[string]string{p1: "lo", p2: "127.0.0.2"}, bound)
	code, stdout, _ = runCLI(t, "status", "--control-dir", ctl)
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, p1+"@lo active")
	require.Contains(t, stdout, p2+"@127.0.0.2 active")

	code, _, stderr = runCLI(t, "detach", "labnode", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, receive(t, msgs, "STOPPING=1"), "STOPPING=1")
	select {
	case err := <-done:
		require.NoError(t, err, "attach --node exits 0 after detach: %s", errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("attach --node did not exit after detach")
	}
}

// TestLabAttachAll: gomp attach --all attaches every automatic record as
// its own device, skips manual ones, and reports a broken record with its
// file and line without stopping the others.
func TestLabAttachAll(t *testing.T) {
	lab(t)
	p1, p2, target := os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	state, dir := t.TempDir(), t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	for _, n := range []struct{ name, startup, portal string }{
		{"auto1", "automatic", p1}, {"auto2", "automatic", p2}, {"hand", "manual", p1},
	} {
		code, _, stderr := runCLI(t, "node", "add", n.name, "--state-dir", state, "--startup", n.startup,
			"--target", target, "--portal", n.portal, "--lun", "1", "--alias", "all-"+n.name,
			"--listen", "unix:"+filepath.Join(dir, n.name+".nbd"), "--control-dir", ctl)
		require.Equal(t, exitOK, code, stderr)
	}
	broken := filepath.Join(state, "nodes", "broken")
	require.NoError(t, os.WriteFile(broken, []byte("startup = automatic\ntarget = "+target+"\nportal = 198.18.0.1@\n"), 0o600))

	msgs := notifyListener(t)
	out, errb, done := runBackground(t, "attach", "--all", "--state-dir", state)
	ready := receive(t, msgs, "READY=1")
	require.Contains(t, ready, "READY=1", "attach --all stderr: %s", errb.String())
	require.Contains(t, ready, "STATUS=attached 2 of 3 automatic nodes")
	require.Contains(t, out.String(), "ready: all-auto1 ")
	require.Contains(t, out.String(), "(node auto1)")
	require.Contains(t, out.String(), "ready: all-auto2 ")
	require.NotContains(t, out.String(), "all-hand", "manual records are not attached by --all")

	code, stdout, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Len(t, st, 2, "one device per automatic record")

	for _, n := range []string{"auto1", "auto2"} {
		code, _, stderr = runCLI(t, "detach", n, "--control-dir", ctl)
		require.Equal(t, exitOK, code, stderr)
	}
	select {
	case err := <-done:
		require.ErrorContains(t, err, broken+":3: ", "the exit status reports the record that failed")
	case <-time.After(30 * time.Second):
		t.Fatal("attach --all did not exit after both detaches")
	}
}
