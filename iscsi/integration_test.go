package iscsi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/pdu"
	"github.com/stretchr/testify/require"
)

// parallel runs fn(0..n-1) with at most depth calls in flight and returns
// the first error.
func parallel(depth, n int, fn func(i int) error) error {
	sem := make(chan struct{}, depth)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	return first
}

func labCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func dialLab(t *testing.T, cfg Config) *Session {
	t.Helper()
	s, err := Dial(labCtx(t), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	return s
}

func TestLabDiscoveryBothPortals(t *testing.T) {
	env := lab(t)
	for _, portal := range []string{env.portal1, env.portal2} {
		targets, err := Discover(labCtx(t), Config{Portal: portal})
		require.NoError(t, err, portal)
		names := map[string][]TargetPortal{}
		for _, tg := range targets {
			names[tg.Name] = tg.Portals
		}
		for _, want := range []string{env.target, env.chapTarget, env.mutualTarget} {
			require.Contains(t, names, want, "via %s", portal)
			require.Equal(t, []TargetPortal{{Addr: portal, TPGT: 1}}, names[want])
		}
	}
}

func TestLabLoginNoAuthAndInquire(t *testing.T) {
	env := lab(t)
	s := dialLab(t, Config{Portal: env.portal1, TargetName: env.target})
	p := s.Params()
	require.True(t, p.ImmediateData)
	require.False(t, p.InitialR2T)
	luns, err := s.ReportLUNs(labCtx(t))
	require.NoError(t, err)
	require.Contains(t, luns, uint16(1))
	info, err := s.Inquire(labCtx(t), 1)
	require.NoError(t, err)
	require.Equal(t, int64(1<<30), info.Size())
	require.Equal(t, uint32(512), info.BlockSize)
	require.NotEmpty(t, info.WWID)
	require.True(t, info.CanUnmap, "thin_provisioning=1 gives LBPME and LBPU")

	// The second portal reports the same identity, so paths group by WWID.
	s2 := dialLab(t, Config{Portal: env.portal2, TargetName: env.target})
	info2, err := s2.Inquire(labCtx(t), 1)
	require.NoError(t, err)
	require.Equal(t, info.WWID, info2.WWID)
	require.NotEqual(t, s.ISID(), s2.ISID(), "each path needs its own ISID")
}

func TestLabCHAP(t *testing.T) {
	env := lab(t)
	ctx := labCtx(t)
	one := &CHAP{User: env.chapUser, Secret: env.chapSecret}
	s := dialLab(t, Config{Portal: env.portal1, TargetName: env.chapTarget, CHAP: one})
	require.NoError(t, s.Ping(ctx))

	mutual := &CHAP{User: env.mutualUser, Secret: env.mutualSecret,
		TargetUser: env.mutualTargetUser, TargetSecret: env.mutualTargetSecret}
	m := dialLab(t, Config{Portal: env.portal2, TargetName: env.mutualTarget, CHAP: mutual})
	require.NoError(t, m.Ping(ctx))

	for name, cfg := range map[string]Config{
		"wrong secret": {Portal: env.portal1, TargetName: env.chapTarget,
			CHAP: &CHAP{User: env.chapUser, Secret: Secret("not-the-secret")}},
		"no credentials": {Portal: env.portal1, TargetName: env.chapTarget},
		"wrong target secret": {Portal: env.portal1, TargetName: env.mutualTarget,
			CHAP: &CHAP{User: env.mutualUser, Secret: env.mutualSecret, TargetUser: env.mutualTargetUser,
				TargetSecret: Secret("impostor")}},
	} {
		_, err := Dial(ctx, cfg)
		var le *LoginError
		require.ErrorAs(t, err, &le, name)
		require.Contains(t, err.Error(), env.portal1, name)
		require.NotContains(t, err.Error(), string(env.chapSecret), name)
		t.Logf("%s: %v", name, err)
	}
	_, err := Dial(ctx, Config{Portal: env.portal1, TargetName: "iqn.2026-11.dev.gomp:nosuch"})
	var le *LoginError
	require.ErrorAs(t, err, &le)
	require.Equal(t, pdu.LoginNotFound, le.Status)
}

// TestLabWriteReadVerify writes random data at queue depth 32 in I/O sizes
// from 4 KiB to 4 MiB, reads it back and compares checksums, with digests
// off and on.
func TestLabWriteReadVerify(t *testing.T) {
	env := lab(t)
	total := 256 << 20
	if testing.Short() {
		total = 32 << 20
	}
	for _, digest := range []string{"None", "CRC32C"} {
		t.Run(digest, func(t *testing.T) {
			cfg := Config{Portal: env.portal1, TargetName: env.target,
				Negotiation: Negotiation{HeaderDigest: []string{digest}, DataDigest: []string{digest}}}
			s := dialLab(t, cfg)
			p := s.Params()
			require.Equal(t, digest == "CRC32C", p.HeaderDigest && p.DataDigest)
			l, err := s.OpenLUN(labCtx(t), 1)
			require.NoError(t, err)
			n := total
			if digest == "CRC32C" {
				n = total / 4
			}
			verifyRegion(t, l, 0, n)
		})
	}
}

func verifyRegion(t *testing.T, l *LUN, base int64, n int) {
	ctx := labCtx(t)
	data := make([]byte, n)
	_, _ = rand.Read(data)
	sizes := []int{4 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	type io struct{ off, n int }
	var ios []io
	for off, i := 0, 0; off < n; i++ {
		sz := min(sizes[i%len(sizes)], n-off)
		ios = append(ios, io{off, sz})
		off += sz
	}
	run := func(write bool, buf []byte) {
		require.NoError(t, parallel(32, len(ios), func(i int) error {
			x := ios[i]
			var err error
			if write {
				_, err = l.WriteAtContext(ctx, buf[x.off:x.off+x.n], base+int64(x.off), false)
			} else {
				_, err = l.ReadAtContext(ctx, buf[x.off:x.off+x.n], base+int64(x.off))
			}
			return err
		}))
	}
	start := time.Now()
	run(true, data)
	require.NoError(t, l.Flush(ctx))
	wdur := time.Since(start)
	back := make([]byte, n)
	start = time.Now()
	run(false, back)
	rdur := time.Since(start)
	require.Equal(t, sha256.Sum256(data), sha256.Sum256(back), "read back differs")
	t.Logf("%d MiB in %d I/Os: write %v, read %v", n>>20, len(ios), wdur, rdur)
}

func TestLabUnmapAndWriteSame(t *testing.T) {
	env := lab(t)
	ctx := labCtx(t)
	s := dialLab(t, Config{Portal: env.portal2, TargetName: env.target})
	l, err := s.OpenLUN(ctx, 1)
	require.NoError(t, err)
	const off, n = 512 << 20, 1 << 20
	junk := bytes.Repeat([]byte{0xa5}, n)
	_, err = l.WriteAt(junk, off)
	require.NoError(t, err)
	require.NoError(t, l.WriteZeroes(ctx, off, n/2, false))
	require.NoError(t, l.Unmap(ctx, off+n/2, n/2))
	back := make([]byte, n)
	_, err = l.ReadAt(back, off)
	require.NoError(t, err)
	require.Equal(t, make([]byte, n), back, "WRITE SAME zeroes; UNMAP on tgt reads back zeroes (LBPRZ=1)")
}

func TestLabConcurrentSessionsShareNothing(t *testing.T) {
	env := lab(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			portal := []string{env.portal1, env.portal2}[i%2]
			s, err := Dial(labCtx(t), Config{Portal: portal, TargetName: env.target})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close(context.Background())
			if err := s.Ping(labCtx(t)); err != nil {
				errs <- fmt.Errorf("%s: %w", portal, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.False(t, errors.Is(nil, ErrConnection))
}
