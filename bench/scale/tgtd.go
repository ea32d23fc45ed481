package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// tgtd is a tgtd of the bench's own: its control port, its portals.
type tgtd struct {
	ctl     string
	portals []string
	cmd     *exec.Cmd
}

// startTgtd starts tgtd on control port ctl serving portals, with target
// tid 1 named iqn holding luns null LUNs, open to every initiator.
func startTgtd(ctx context.Context, ctl string, portals []string, iqn string, luns int) (*tgtd, error) {
	if _, err := os.Stat("/run/tgtd/socket." + ctl); err == nil {
		return nil, fmt.Errorf("tgtd control port %s is in use (-ctl)", ctl)
	}
	t := &tgtd{ctl: ctl, portals: portals}
	t.cmd = exec.Command("tgtd", "-f", "-C", ctl, "--iscsi", "portal="+portals[0])
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	if err := t.setup(ctx, iqn, luns); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

func (t *tgtd) setup(ctx context.Context, iqn string, luns int) error {
	if err := t.waitUp(ctx); err != nil {
		return err
	}
	for _, p := range t.portals[1:] {
		if err := t.adm("--op", "new", "--mode", "portal", "--param", "portal="+p); err != nil {
			return err
		}
	}
	if err := t.adm("--op", "new", "--mode", "target", "--tid", "1", "--targetname", iqn); err != nil {
		return err
	}
	for lun := 1; lun <= luns; lun++ {
		err := t.adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", fmt.Sprint(lun),
			"--bstype", "null", "--backing-store", fmt.Sprintf("null%d", lun))
		if err != nil {
			return err
		}
	}
	return t.adm("--op", "bind", "--mode", "target", "--tid", "1", "--initiator-address", "ALL")
}

// waitUp polls (bounded) until tgtd answers on its control port.
func (t *tgtd) waitUp(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := t.show()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("tgtd does not answer: %w", errors.Join(err, ctx.Err()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *tgtd) adm(args ...string) error {
	out, err := exec.Command("tgtadm", append([]string{"-C", t.ctl, "--lld", "iscsi"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tgtadm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (t *tgtd) show() (string, error) {
	out, err := exec.Command("tgtadm", "-C", t.ctl, "--lld", "iscsi", "--op", "show", "--mode", "target").CombinedOutput()
	return string(out), err
}

// nexusRE matches the "I_T nexus: N" lines of tgtadm --op show.
var nexusRE = regexp.MustCompile(`(?m)^\s*I_T nexus: \d+`)

// nexuses counts the I_T nexuses (iSCSI sessions) tgtd holds.
func (t *tgtd) nexuses() (int, error) {
	out, err := t.show()
	if err != nil {
		return 0, fmt.Errorf("tgtadm --op show: %w: %s", err, out)
	}
	return len(nexusRE.FindAllString(out, -1)), nil
}

// stop kills tgtd by its pid (it ignores SIGTERM while it has targets)
// and removes its control socket.
func (t *tgtd) stop() {
	_ = t.cmd.Process.Kill()
	_ = t.cmd.Wait()
	os.Remove("/run/tgtd/socket." + t.ctl)
	os.Remove("/run/tgtd/socket." + t.ctl + ".lock")
}
