//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/nbd"
	"github.com/gomp-dev/gomp/nbd/kernel"
	"golang.org/x/sys/unix"
)

type probe struct {
	mode     kernel.AttachMode
	conns    int
	mke2fs   string
	e2fsck   string
	mnt      string
	backend  *nbd.MemoryBackend
	files    map[string][]byte
	failures int
}

func main() {
	modeName := flag.String("mode", "netlink", "attach mode: netlink, ioctl or auto")
	size := flag.Int64("size", 64<<20, "export size in bytes")
	conns := flag.Int("conns", 1, "connections (kernel hardware queues)")
	mke2fs := flag.String("mke2fs", "/usr/local/sbin/mke2fs", "mke2fs binary (not busybox's)")
	e2fsck := flag.String("e2fsck", "/usr/local/sbin/e2fsck", "e2fsck binary; empty skips the check")
	mnt := flag.String("mnt", "/mnt", "mount point")
	reconf := flag.Bool("reconfigure", false, "also test NBD_CMD_RECONFIGURE after killed connections (netlink)")
	timeout := flag.Duration("timeout", 3*time.Minute, "overall deadline")
	flag.Parse()

	p := &probe{conns: *conns, mke2fs: *mke2fs, e2fsck: *e2fsck, mnt: *mnt,
		backend: nbd.NewMemory(*size), files: makeFiles()}
	switch *modeName {
	case "netlink":
		p.mode = kernel.AttachNetlink
	case "ioctl":
		p.mode = kernel.AttachIoctl
	case "auto":
		p.mode = kernel.AttachAuto
	default:
		fmt.Fprintf(os.Stderr, "kernelprobe: unknown -mode %q\n", *modeName)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	p.run(ctx, *reconf)
	if p.failures > 0 {
		fmt.Printf("kernelprobe: %s: %d check(s) FAILED\n", p.mode, p.failures)
		os.Exit(1)
	}
	fmt.Printf("kernelprobe: %s: all checks passed\n", p.mode)
}

func (p *probe) ok(format string, a ...any) {
	fmt.Printf("kernelprobe: ok: %s: %s\n", p.mode, fmt.Sprintf(format, a...))
}

// check records err as a failure; it returns whether err was nil.
func (p *probe) check(err error, what string) bool {
	if err != nil {
		p.failures++
		fmt.Printf("kernelprobe: FAIL: %s: %s: %v\n", p.mode, what, err)
		return false
	}
	p.ok("%s", what)
	return true
}

func (p *probe) run(ctx context.Context, reconf bool) {
	_, err := os.Stat("/sys/module/nbd")
	fmt.Printf("kernelprobe: nbd module loaded before attach: %v\n", err == nil)
	if !p.roundWrite(ctx) {
		return
	}
	p.checkSuperblock()
	if !p.roundVerify(ctx) {
		return
	}
	if reconf {
		p.roundReconfigure(ctx)
	}
}

func (p *probe) attach(ctx context.Context, srv *nbd.Server, dead time.Duration) (*kernel.Device, error) {
	t0 := time.Now()
	d, err := kernel.Attach(ctx, srv, p.backend, kernel.AttachConfig{
		Index: -1, Connections: p.conns, Timeout: 30 * time.Second,
		DeadConnTimeout: dead, Mode: p.mode,
	})
	if err != nil {
		return nil, err
	}
	info, _ := kernel.ReadDeviceInfo("", d.Index())
	p.ok("attached %s by %s in %v: size=%d lbs=%d pid=%d backend=%q conns=%d",
		d.Path(), d.Mode(), time.Since(t0).Round(time.Millisecond), info.Size,
		info.LogicalBlockSize, info.PID, info.Backend, p.conns)
	if _, err := os.Stat(d.Path()); err != nil {
		return d, fmt.Errorf("device node: %w", err)
	}
	return d, nil
}

// roundWrite: attach, mkfs, mount, write, sync, unmount, fsck, disconnect.
func (p *probe) roundWrite(ctx context.Context) bool {
	d, err := p.attach(ctx, &nbd.Server{}, 0)
	if !p.check(err, "attach #1") {
		return false
	}
	good := p.check(p.mkfs(d.Path()), "mke2fs -t ext4 "+d.Path()) &&
		p.check(kernel.Mount(d.Path(), p.mnt, "ext4", ""), "mount ext4 on "+p.mnt) &&
		p.check(p.writeFiles(), fmt.Sprintf("write %d files + sync", len(p.files))) &&
		p.check(kernel.Unmount(p.mnt), "unmount") &&
		p.check(p.fsck(d.Path()), "e2fsck -fn clean")
	return p.disconnect(ctx, d) && good
}

// roundVerify: re-attach the same export and read the files back.
func (p *probe) roundVerify(ctx context.Context) bool {
	d, err := p.attach(ctx, &nbd.Server{}, 0)
	if !p.check(err, "attach #2 (same export)") {
		return false
	}
	good := p.check(kernel.Mount(d.Path(), p.mnt, "ext4", "ro"), "mount ext4 read-only") &&
		p.check(p.verifyFiles(), "files read back after re-attach") &&
		p.check(kernel.Unmount(p.mnt), "unmount")
	return p.disconnect(ctx, d) && good
}

func (p *probe) disconnect(ctx context.Context, d *kernel.Device) bool {
	t0 := time.Now()
	if !p.check(d.Disconnect(ctx), "disconnect "+d.Path()) {
		return false
	}
	if !p.check(d.Wait(), "server connections ended cleanly") {
		return false
	}
	info, err := kernel.ReadDeviceInfo("", d.Index())
	if err == nil && info.Running() {
		return p.check(fmt.Errorf("pid file still there (pid %d)", info.PID), "device stopped")
	}
	p.ok("device stopped %v after the disconnect request (size now %d)", time.Since(t0).Round(time.Millisecond), info.Size)
	return true
}

// checkSuperblock reads the ext4 magic straight from the export.
func (p *probe) checkSuperblock() {
	var magic [2]byte
	_, err := p.backend.ReadAtContext(context.Background(), magic[:], 1024+56)
	if err == nil && magic != [2]byte{0x53, 0xef} {
		err = fmt.Errorf("magic % x", magic)
	}
	p.check(err, "ext4 superblock magic 0xEF53 is in the export itself")
}

// roundReconfigure simulates a crash of the serving process and a restart
// that takes the device over with NBD_CMD_RECONFIGURE.
func (p *probe) roundReconfigure(ctx context.Context) {
	srv := &nbd.Server{}
	d, err := p.attach(ctx, srv, 60*time.Second)
	if !p.check(err, "attach #3 with DeadConnTimeout 60s") {
		return
	}
	killed, cancel := context.WithCancel(ctx)
	cancel()
	_ = srv.Shutdown(killed) // closes every connection at once, as a crash would
	<-d.Done()
	p.ok("connections killed; Wait: %v", d.Wait())
	readDone := make(chan error, 1)
	go func() { readDone <- readDirect(d.Path()) }()
	select {
	case err := <-readDone:
		p.check(fmt.Errorf("returned while no connection was alive: %v", err), "read waits for a new connection")
		return
	case <-time.After(500 * time.Millisecond):
		p.ok("read is waiting for a connection")
	}
	d2, err := kernel.Reconfigure(ctx, &nbd.Server{}, p.backend, kernel.AttachConfig{
		Index: d.Index(), Connections: p.conns, Mode: kernel.AttachNetlink,
	})
	if !p.check(err, "reconfigure "+d.Path()+" with new sockets") {
		_ = kernel.DisconnectIndex(ctx, d.Index(), "")
		return
	}
	select {
	case err := <-readDone:
		p.check(err, "the waiting read completed through the new connection")
	case <-time.After(30 * time.Second):
		p.check(errors.New("still blocked 30s after reconfigure"), "waiting read")
	}
	_ = p.check(kernel.Mount(d2.Path(), p.mnt, "ext4", "ro"), "mount after reconfigure") &&
		p.check(p.verifyFiles(), "files read back after reconfigure") &&
		p.check(kernel.Unmount(p.mnt), "unmount")
	p.disconnect(ctx, d2)
}

func readDirect(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	defer unix.Munmap(buf)
	n, err := unix.Pread(fd, buf, 1<<20)
	if err == nil && n != len(buf) {
		err = fmt.Errorf("short read %d", n)
	}
	return err
}

func (p *probe) mkfs(dev string) error {
	return runCmd(p.mke2fs, "-q", "-F", "-t", "ext4", dev)
}

func (p *probe) fsck(dev string) error {
	if p.e2fsck == "" {
		return nil
	}
	return runCmd(p.e2fsck, "-fn", dev)
}

func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// makeFiles returns deterministic file contents: a small text, 1 MiB and
// 8 MiB of pseudo-random bytes.
func makeFiles() map[string][]byte {
	rng := rand.NewChaCha8([32]byte{'g', 'o', 'm', 'p'})
	big := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	return map[string][]byte{
		"hello.txt": []byte("gomp kernel lab\n"),
		"one.bin":   big(1 << 20),
		"dir/eight": big(8 << 20),
	}
}

func (p *probe) writeFiles() error {
	for name, data := range p.files {
		path := filepath.Join(p.mnt, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	unix.Sync()
	return nil
}

func (p *probe) verifyFiles() error {
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		fmt.Printf("kernelprobe: drop_caches: %v\n", err)
	}
	for name, want := range p.files {
		got, err := os.ReadFile(filepath.Join(p.mnt, name))
		if err != nil {
			return err
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			return fmt.Errorf("%s: content differs (%d bytes, want %d)", name, len(got), len(want))
		}
	}
	return nil
}
