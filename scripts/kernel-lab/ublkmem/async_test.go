//go:build linux

package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// recDev records the calls serveDev makes and fails them with err.
type recDev struct {
	err   error
	calls []string
	fua   bool
	unmap bool
}

func (r *recDev) Size() int64 { return 1 << 20 }
func (r *recDev) ReadAtContext(_ context.Context, p []byte, off int64) (int, error) {
	r.calls = append(r.calls, "read")
	return len(p), r.err
}
func (r *recDev) WriteAtContext(_ context.Context, p []byte, off int64, fua bool) (int, error) {
	r.calls = append(r.calls, "write")
	r.fua = fua
	return len(p), r.err
}
func (r *recDev) Flush(context.Context) error {
	r.calls = append(r.calls, "flush")
	return r.err
}
func (r *recDev) Trim(context.Context, int64, int64) error {
	r.calls = append(r.calls, "trim")
	return r.err
}
func (r *recDev) WriteZeroes(_ context.Context, _, _ int64, unmap bool) error {
	r.calls = append(r.calls, "zero")
	r.unmap = unmap
	return r.err
}

// TestServeDev: FUA and NOUNMAP reach the device, its errors become -EIO
// and ErrUnsupported -EOPNOTSUPP (TestServe has the memory disk's
// answers).
func TestServeDev(t *testing.T) {
	buf := make([]byte, 8192)
	req := func(op uint32, sector uint64, sectors uint32) ioDesc {
		return ioDesc{opFlags: op, startSector: sector, nrSectors: sectors}
	}
	ctx := context.Background()
	r := &recDev{}
	if res, _ := serveDev(ctx, r, req(ublkIOOpWrite|ublkIOFFUA, 0, 8), buf); res != 4096 || !r.fua {
		t.Errorf("FUA write: %d, fua %v", res, r.fua)
	}
	if res, _ := serveDev(ctx, r, req(ublkIOOpWriteZeroes, 0, 8), nil); res != 0 || !r.unmap {
		t.Errorf("WRITE_ZEROES: %d, unmap %v", res, r.unmap)
	}
	r.err = errors.New("no path")
	for _, op := range []uint32{ublkIOOpRead, ublkIOOpWrite, ublkIOOpFlush, ublkIOOpDiscard, ublkIOOpWriteZeroes} {
		if res, err := serveDev(ctx, r, req(op, 0, 8), buf); res != -int32(unix.EIO) || err == nil {
			t.Errorf("op %d failing: %d, %v", op, res, err)
		}
	}
	r.err = errors.ErrUnsupported
	if res, _ := serveDev(ctx, r, req(ublkIOOpDiscard, 0, 8), nil); res != -int32(unix.EOPNOTSUPP) {
		t.Errorf("unsupported DISCARD: %d", res)
	}
	if want := "write zero read write flush trim zero trim"; strings.Join(r.calls, " ") != want {
		t.Errorf("calls %q, want %q", strings.Join(r.calls, " "), want)
	}
}

// TestAsyncServer: tags handed to the workers come back through the
// eventfd with their results, the memory changed, and a round trip
// allocates nothing.
func TestAsyncServer(t *testing.T) {
	const depth = 8
	st, err := newStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	descs := make([]ioDesc, depth)
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
		for j := range bufs[i] {
			bufs[i][j] = byte(i + 1)
		}
		descs[i] = ioDesc{opFlags: ublkIOOpWrite, startSector: uint64(i) * 8, nrSectors: 8}
	}
	s, err := newAsyncServer(context.Background(), memDev{st},
		depth, func(tag uint16) ioDesc { return descs[tag] }, func(tag uint16) []byte { return bufs[tag] })
	if err != nil {
		t.Skip("no eventfd here:", err)
	}
	defer s.stop(false)
	var ev [8]byte
	round := func() int {
		for tag := range depth {
			s.start(uint16(tag))
		}
		got := 0
		for got < depth {
			if _, err := unix.Read(s.efd, ev[:]); err != nil {
				t.Fatal(err)
			}
			for _, c := range s.take() {
				if c.result != 4096 {
					t.Fatalf("tag %d: result %d", c.tag, c.result)
				}
				got++
			}
		}
		return got
	}
	if n := round(); n != depth {
		t.Fatalf("%d completions", n)
	}
	for i := range depth {
		if b := st.mem[i*4096]; b != byte(i+1) {
			t.Fatalf("block %d: %d", i, b)
		}
	}
	if a := testing.AllocsPerRun(50, func() { round() }); a != 0 {
		t.Errorf("%v allocations per round of %d requests", a, depth)
	}
}
