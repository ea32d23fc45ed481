package chaostest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// tablePrefix names the nftables tables of this package; the creating
// process's pid follows, so that a table left behind by a killed run can
// be recognized and removed (RemoveStaleTables).
const tablePrefix = "gomp_chaos_"

// Path is one path of the device as the faults see it: the portal and
// the local address its sessions are bound to.
type Path struct {
	Portal string // host:port
	Source string // local IP of its sessions, ours alone
}

// Fault is an nftables table of our own on the output hook. Cut installs
// rules for some paths; Restore deletes the table. Safe for concurrent use.
type Fault struct {
	table string

	mu sync.Mutex // guards the following
	on bool
}

// NewFault returns a Fault whose table is named for this process and tag.
func NewFault(tag string) *Fault {
	return &Fault{table: fmt.Sprintf("%s%d_%s", tablePrefix, os.Getpid(), tag)}
}

// Verdicts for Cut.
const (
	Blackhole = "drop"
	Reset     = "reject with tcp reset"
)

// Cut replaces whatever the fault did with verdict for every packet from
// each path's source to its portal.
func (f *Fault) Cut(verdict string, paths ...Path) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.deleteLocked(); err != nil {
		return err
	}
	cmds := [][]string{{"add", "table", "inet", f.table},
		{"add", "chain", "inet", f.table, "out", "{ type filter hook output priority 0; }"}}
	for _, p := range paths {
		host, port, err := net.SplitHostPort(p.Portal)
		if err != nil {
			return err
		}
		cmds = append(cmds, append([]string{"add", "rule", "inet", f.table, "out", "ip", "saddr", p.Source,
			"ip", "daddr", host, "tcp", "dport", port}, strings.Fields(verdict)...))
	}
	f.on = true // from the first command on, Restore has something to delete
	for _, c := range cmds {
		if out, err := exec.Command("nft", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("nft %s: %v: %s", strings.Join(c, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// Restore deletes the table, if any.
func (f *Fault) Restore() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleteLocked()
}

func (f *Fault) deleteLocked() error {
	if !f.on {
		return nil
	}
	out, err := exec.Command("nft", "delete", "table", "inet", f.table).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("No such file")) {
		return fmt.Errorf("nft delete table %s: %v: %s", f.table, err, bytes.TrimSpace(out))
	}
	f.on = false
	return nil
}

// RemoveStaleTables deletes this package's tables whose process is gone
// (a run killed by the test timeout cannot run its cleanups). It returns
// the tables it deleted.
func RemoveStaleTables() ([]string, error) {
	out, err := exec.Command("nft", "list", "tables", "inet").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %v: %s", err, bytes.TrimSpace(out))
	}
	var removed []string
	for _, line := range strings.Split(string(out), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "table inet "+tablePrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(name, "_")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || processAlive(pid) {
			continue
		}
		table := tablePrefix + name
		if out, err := exec.Command("nft", "delete", "table", "inet", table).CombinedOutput(); err != nil {
			return removed, fmt.Errorf("nft delete table %s: %v: %s", table, err, bytes.TrimSpace(out))
		}
		removed = append(removed, table)
	}
	return removed, nil
}

func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// Tgtd reaches the lab's tgtd through tgtadm on control port CTL.
type Tgtd struct {
	CTL    string // tgtadm -C; "" or "0" for the default
	Target string // IQN
}

func (g Tgtd) adm(args ...string) ([]byte, error) {
	ctl := g.CTL
	if ctl == "" {
		ctl = "0"
	}
	out, err := exec.Command("tgtadm", append([]string{"-C", ctl, "--lld", "iscsi"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("tgtadm %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// tid finds the target's id in "--op show --mode target".
func (g Tgtd) tid() (string, error) {
	out, err := g.adm("--op", "show", "--mode", "target")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Target "); ok {
			id, name, _ := strings.Cut(rest, ": ")
			if name == g.Target {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("tgtadm: no target %s", g.Target)
}

// Conn is one iSCSI connection in tgtd.
type Conn struct {
	TID, SID, CID string
	Addr          string // the initiator's IP address
}

// Conns lists the target's connections from initiator address src ("":
// every address).
func (g Tgtd) Conns(src string) ([]Conn, error) {
	tid, err := g.tid()
	if err != nil {
		return nil, err
	}
	out, err := g.adm("--op", "show", "--mode", "conn", "--tid", tid)
	if err != nil {
		return nil, err
	}
	var conns []Conn
	var cur Conn
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, val, _ := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		switch key {
		case "Session":
			cur = Conn{TID: tid, SID: val}
		case "Connection":
			cur.CID = val
		case "IP Address":
			cur.Addr = val
			if src == "" || val == src {
				conns = append(conns, cur)
			}
		}
	}
	return conns, sc.Err()
}

// Kill deletes a connection inside tgtd.
func (g Tgtd) Kill(c Conn) error {
	_, err := g.adm("--op", "delete", "--mode", "conn", "--tid", c.TID, "--sid", c.SID, "--cid", c.CID)
	return err
}

// KillFrom deletes every connection from src; it returns how many.
func (g Tgtd) KillFrom(src string) (int, error) {
	conns, err := g.Conns(src)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, c := range conns {
		errs = append(errs, g.Kill(c))
	}
	return len(conns), errors.Join(errs...)
}
