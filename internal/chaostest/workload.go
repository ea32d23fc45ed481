package chaostest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/nbd"
)

// fuaFlag: the export takes NBD_CMD_FLAG_FUA.
const fuaFlag = nbd.FlagSendFUA

// Sector is the unit of stamping and verification.
const Sector = 4096

// Stamp layout at the start of every sector: magic, run id, sequence
// number of the write, the sector's byte offset. The rest of the sector is
// a pattern derived from these.
const (
	stampMagic uint64 = 0x4f414843504d4f47 // "GOMPCHAO" little-endian
	stampLen   int    = 32
)

// Per-sector record values besides a sequence number.
const (
	unwritten uint64 = 0       // not written in this run: not checked
	unknown   uint64 = 1 << 63 // a write failed: old or new content, not checked
)

// fillSector writes the stamp and pattern of write seq for the sector at
// off into s (Sector bytes).
func fillSector(s []byte, run, seq uint64, off int64) {
	binary.LittleEndian.PutUint64(s[0:], stampMagic)
	binary.LittleEndian.PutUint64(s[8:], run)
	binary.LittleEndian.PutUint64(s[16:], seq)
	binary.LittleEndian.PutUint64(s[24:], uint64(off))
	x := run ^ seq*0x9e3779b97f4a7c15 ^ uint64(off)
	for i := stampLen; i < len(s); i += 8 {
		x += 0x9e3779b97f4a7c15 // splitmix64
		z := (x ^ x>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(s[i:], z^z>>31)
	}
}

// Mismatch describes a sector that does not hold its last acknowledged
// write.
type Mismatch struct {
	When      string // "read-back" or "final"
	Worker    int
	Offset    int64
	Want      uint64 // sequence number of the last acknowledged write
	Found     uint64 // sequence number in the sector's stamp, if it has ours
	FoundRun  bool   // the stamp is of this run and this offset
	At        time.Time
	FirstByte []byte
}

func (m Mismatch) String() string {
	found := fmt.Sprintf("write #%d", m.Found)
	if !m.FoundRun {
		found = fmt.Sprintf("no stamp of this run (%x)", m.FirstByte)
	}
	return fmt.Sprintf("%s mismatch at %s: worker %d, offset %d: want write #%d, found %s",
		m.When, m.At.Format("15:04:05.000"), m.Worker, m.Offset, m.Want, found)
}

// Stats are the workload's counters.
type Stats struct {
	IOs, Writes, Reads, Flushes int64
	BytesWritten, BytesRead     int64
	Errors, Mismatches          int64
	WorstStall                  time.Duration
	FirstError                  error
}

// Workload runs Workers goroutines over clients (round-robin), each
// writing and reading back its own part of [Base, Base+Size).
type Workload struct {
	Clients []*Client
	Base    int64
	Size    int64
	Workers int
	// IOTimeout guards each I/O against a hang (default 5 min): past it the
	// client's connection is closed and the I/O is an error.
	IOTimeout time.Duration

	run     uint64
	workers []*worker
	stop    chan struct{}
	wg      sync.WaitGroup

	ios, writes, reads, flushes, wbytes, rbytes atomic.Int64
	errs, mismatches, stall                     atomic.Int64

	mu       sync.Mutex // guards the following
	firstErr error
	report   []Mismatch // the first few
}

type worker struct {
	id    int
	c     *Client
	base  int64
	nsec  int
	acked []uint64 // per sector: unwritten, unknown or the last acked seq
	seq   uint64
	rng   *rand.Rand
	fua   bool
}

// Start launches the workers.
func (w *Workload) Start() {
	if w.IOTimeout <= 0 {
		w.IOTimeout = 5 * time.Minute
	}
	w.run = rand.Uint64() | 1
	w.stop = make(chan struct{})
	part := w.Size / int64(w.Workers) / Sector * Sector
	for i := range w.Workers {
		c := w.Clients[i%len(w.Clients)]
		wk := &worker{id: i, c: c, base: w.Base + int64(i)*part, nsec: int(part / Sector),
			rng: rand.New(rand.NewPCG(w.run, uint64(i))), fua: c.Flags()&fuaFlag != 0}
		wk.acked = make([]uint64, wk.nsec)
		w.workers = append(w.workers, wk)
	}
	for _, wk := range w.workers {
		w.wg.Go(func() { w.loop(wk) })
	}
}

// Stop stops the workers and waits for them.
func (w *Workload) Stop() {
	close(w.stop)
	w.wg.Wait()
}

func (w *Workload) loop(wk *worker) {
	wbuf, rbuf := make([]byte, 64*Sector), make([]byte, 64*Sector)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		switch r := wk.rng.IntN(100); {
		case r < 60:
			w.write(wk, wbuf)
		case r < 97:
			first, n := wk.pick()
			bad, _ := w.verify(wk, "read-back", first, rbuf[:n*Sector])
			w.mismatches.Add(int64(bad))
		default:
			w.timed(func(ctx context.Context) error { return wk.c.Flush(ctx) }, &w.flushes, 0)
		}
	}
}

// pick returns a random run of 1 to 64 sectors of the worker's part.
func (wk *worker) pick() (first, n int) {
	n = 1 + wk.rng.IntN(64)
	return wk.rng.IntN(wk.nsec - n + 1), n
}

func (wk *worker) off(sector int) int64 { return wk.base + int64(sector)*Sector }

// write writes a stamped block and records it once acknowledged.
func (w *Workload) write(wk *worker, buf []byte) {
	first, n := wk.pick()
	wk.seq++
	p := buf[:n*Sector]
	for i := range n {
		fillSector(p[i*Sector:(i+1)*Sector], w.run, wk.seq, wk.off(first+i))
	}
	fua := wk.fua && wk.rng.IntN(10) == 0
	ok := w.timed(func(ctx context.Context) error { return wk.c.WriteAt(ctx, p, wk.off(first), fua) }, &w.writes, len(p))
	rec := wk.seq
	if !ok {
		rec = unknown
	}
	for i := range n {
		wk.acked[first+i] = rec
	}
}

// verify reads sectors [first, first+len(buf)/Sector) and checks each
// recorded one; it returns the number of bad sectors, and false when the
// read failed.
func (w *Workload) verify(wk *worker, when string, first int, buf []byte) (int, bool) {
	if !w.timed(func(ctx context.Context) error { return wk.c.ReadAt(ctx, buf, wk.off(first)) }, &w.reads, len(buf)) {
		return 0, false
	}
	want := make([]byte, Sector)
	bad := 0
	for i := range len(buf) / Sector {
		seq := wk.acked[first+i]
		if seq == unwritten || seq == unknown {
			continue
		}
		off := wk.off(first + i)
		fillSector(want, w.run, seq, off)
		got := buf[i*Sector : (i+1)*Sector]
		if string(got) != string(want) {
			bad++
			w.mismatch(when, wk, off, seq, got)
		}
	}
	return bad, true
}

func (w *Workload) mismatch(when string, wk *worker, off int64, want uint64, got []byte) {
	m := Mismatch{When: when, Worker: wk.id, Offset: off, Want: want, At: time.Now(), FirstByte: got[:32]}
	if binary.LittleEndian.Uint64(got) == stampMagic && binary.LittleEndian.Uint64(got[8:]) == w.run &&
		binary.LittleEndian.Uint64(got[24:]) == uint64(off) {
		m.FoundRun, m.Found = true, binary.LittleEndian.Uint64(got[16:])
	}
	w.mu.Lock()
	if len(w.report) < 20 {
		w.report = append(w.report, m)
	}
	w.mu.Unlock()
}

// timed runs one I/O under the hang guard and keeps the counters.
func (w *Workload) timed(io func(context.Context) error, kind *atomic.Int64, n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), w.IOTimeout)
	defer cancel()
	start := time.Now()
	err := io(ctx)
	el := int64(time.Since(start))
	for cur := w.stall.Load(); el > cur && !w.stall.CompareAndSwap(cur, el); cur = w.stall.Load() {
	}
	w.ios.Add(1)
	kind.Add(1)
	if err != nil {
		w.errs.Add(1)
		w.mu.Lock()
		if w.firstErr == nil {
			w.firstErr = fmt.Errorf("%s: %w", time.Now().Format("15:04:05.000"), err)
		}
		w.mu.Unlock()
		return false
	}
	if kind == &w.writes {
		w.wbytes.Add(int64(n))
	} else if kind == &w.reads {
		w.rbytes.Add(int64(n))
	}
	return true
}

// FinalCheck is the result of VerifyAll.
type FinalCheck struct {
	Sectors     int // recorded sectors checked
	Writes      int // distinct acknowledged writes still owning a sector
	LostSectors int // sectors not holding their last acknowledged write
	LostWrites  int // distinct acknowledged writes with a lost sector
	Unknown     int // sectors whose write failed (not checked)
	ReadErrors  int // reads that failed (their sectors are not checked)
}

// VerifyAll reads every recorded sector of every worker (workers
// stopped) and compares it with its last acknowledged write.
func (w *Workload) VerifyAll() FinalCheck {
	var fc FinalCheck
	buf := make([]byte, 256*Sector)
	for _, wk := range w.workers {
		writes, lost := map[uint64]bool{}, map[uint64]bool{}
		for first := 0; first < wk.nsec; first += 256 {
			n := min(256, wk.nsec-first)
			bad, ok := w.verify(wk, "final", first, buf[:n*Sector])
			if !ok {
				fc.ReadErrors++
				continue
			}
			fc.LostSectors += bad
			for i := range n {
				switch s := wk.acked[first+i]; s {
				case unwritten:
				case unknown:
					fc.Unknown++
				default:
					fc.Sectors++
					writes[s] = true
					if bad > 0 && !sectorHolds(buf[i*Sector:(i+1)*Sector], w.run, s, wk.off(first+i)) {
						lost[s] = true
					}
				}
			}
		}
		fc.Writes += len(writes)
		fc.LostWrites += len(lost)
	}
	return fc
}

func sectorHolds(s []byte, run, seq uint64, off int64) bool {
	want := make([]byte, Sector)
	fillSector(want, run, seq, off)
	return string(s) == string(want)
}

// Stats returns the counters so far.
func (w *Workload) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{IOs: w.ios.Load(), Writes: w.writes.Load(), Reads: w.reads.Load(), Flushes: w.flushes.Load(),
		BytesWritten: w.wbytes.Load(), BytesRead: w.rbytes.Load(), Errors: w.errs.Load(),
		Mismatches: w.mismatches.Load(), WorstStall: time.Duration(w.stall.Load()), FirstError: w.firstErr}
}

// Mismatches returns the first mismatches reported.
func (w *Workload) Mismatches() []Mismatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Mismatch(nil), w.report...)
}
