package iscsi

import (
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// dataInPDUs is how many Data-In PDUs the target sends for size bytes: at
// most seg bytes each, a sequence ending at every burst bytes.
func dataInPDUs(size, seg, burst int) int {
	n := 0
	for off, in := 0, 0; off < size; n++ {
		k := min(seg, size-off, burst-in)
		off, in = off+k, in+k
		if in == burst {
			in = 0
		}
	}
	return n
}

// Reads land in the caller's buffer whatever the Data-In split, with the
// status in a SCSI Response or in the last Data-In (phase collapse).
func TestReadDataIn(t *testing.T) {
	sizes := []int{512, 64 << 10, 300<<10 + 512, 1 << 20}
	for _, split := range []int{0, 512, 4096, 65536 + 512} {
		for _, collapse := range []bool{false, true} {
			name := map[bool]string{false: "response", true: "collapsed"}[collapse]
			t.Run(name+"/split="+itoa(split), func(t *testing.T) {
				f := newFake(t, iscsitest.Config{DataInSplit: split, PhaseCollapse: collapse})
				s := f.dial(t)
				c := f.conn(t)
				for i, size := range sizes {
					want := pattern(size, byte(i))
					_, err := f.lun().WriteAt(want, 4096*int64(i+1))
					require.NoError(t, err)
					before := c.Stats().Sent
					got := make([]byte, size)
					cmd := readCmd(uint64(8*(i+1)), got)
					require.NoError(t, s.Do(ctxT(t), cmd))
					require.NoError(t, s.Ping(ctxT(t)), "the target's counters are up to date")
					require.Equal(t, want, got, "size %d", size)
					require.Equal(t, pdu.StatusGood, cmd.Status)
					require.Zero(t, cmd.Residual)

					after := c.Stats().Sent
					seg := s.Params().MaxRecvDataSegmentLength
					if split > 0 {
						seg = min(seg, split)
					}
					require.Equal(t, dataInPDUs(size, seg, s.Params().MaxBurstLength),
						after[pdu.OpDataIn]-before[pdu.OpDataIn], "Data-In PDUs for %d bytes", size)
					responses := after[pdu.OpSCSIResponse] - before[pdu.OpSCSIResponse]
					require.Equal(t, map[bool]int{false: 1, true: 0}[collapse], responses)
				}
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Writes take every path the parameters allow: immediate data, an
// unsolicited Data-Out sequence, R2Ts of at most MaxBurstLength or the
// target's split, several outstanding at once; what lands at the target is
// what was written, and reads back the same.
func TestWritePaths(t *testing.T) {
	crc := []string{"CRC32C"}
	cases := []struct {
		name     string
		target   iscsitest.Config
		neg      Negotiation
		size     int
		r2ts     int // R2Ts expected; -1: some
		dataOuts int // Data-Out PDUs expected; -1: some
	}{
		{name: "immediate only", size: 32 << 10},
		{name: "immediate up to FirstBurstLength", size: 64 << 10},
		{name: "immediate then unsolicited", target: iscsitest.Config{MaxRecvDataSegmentLength: 16 << 10},
			size: 64 << 10, dataOuts: 3},
		{name: "immediate then R2Ts", size: 1 << 20, r2ts: 4, dataOuts: 15},
		{name: "unsolicited without immediate data", target: iscsitest.Config{NoImmediateData: true},
			size: 128 << 10, r2ts: 1, dataOuts: 2},
		{name: "R2T only", target: iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true},
			size: 1 << 20, r2ts: 4, dataOuts: 16},
		{name: "InitialR2T with immediate data", target: iscsitest.Config{ForceInitialR2T: true},
			size: 256 << 10, r2ts: 1, dataOuts: 3},
		{name: "R2T split, one outstanding", target: iscsitest.Config{R2TSplit: 8192},
			size: 256 << 10, r2ts: 24, dataOuts: 24},
		{name: "R2T split, four outstanding", target: iscsitest.Config{R2TSplit: 8192, MaxOutstandingR2T: 4},
			size: 256 << 10, r2ts: 24, dataOuts: 24},
		{name: "R2T split not a segment multiple", target: iscsitest.Config{R2TSplit: 10000, MaxOutstandingR2T: 8,
			MaxRecvDataSegmentLength: 4096}, size: 200 << 10, r2ts: -1, dataOuts: -1},
		{name: "small MaxBurstLength", target: iscsitest.Config{MaxBurstLength: 16 << 10, FirstBurstLength: 16 << 10, MaxOutstandingR2T: 3},
			size: 200 << 10, r2ts: 12, dataOuts: 12},
		{name: "our MaxBurstLength", neg: Negotiation{MaxBurstLength: 32 << 10, FirstBurstLength: 8 << 10},
			target: iscsitest.Config{MaxOutstandingR2T: 2}, size: 200 << 10, r2ts: 6, dataOuts: 6},
		{name: "digests", target: iscsitest.Config{R2TSplit: 8192, MaxOutstandingR2T: 4},
			neg: Negotiation{HeaderDigest: crc, DataDigest: crc}, size: 256 << 10, r2ts: 24, dataOuts: 24},
		{name: "InitialR2T=Yes ImmediateData=No ours", neg: Negotiation{InitialR2T: ProposeYes, ImmediateData: ProposeNo},
			size: 100 << 10, r2ts: 1, dataOuts: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.target)
			s := f.dial(t, func(c *Config) { c.Negotiation = tc.neg })
			c := f.conn(t)
			want := pattern(tc.size, 0xa5)
			cmd := writeCmd(16, want)
			require.NoError(t, s.Do(ctxT(t), cmd))
			require.Equal(t, pdu.StatusGood, cmd.Status)
			require.Equal(t, want, f.atTarget(t, 16*fakeBlockSize, tc.size))
			require.NoError(t, s.Ping(ctxT(t)), "the target's counters are up to date")

			st := c.Stats()
			check := func(what string, want, got int) {
				if want < 0 {
					require.Positive(t, got, what)
				} else {
					require.Equal(t, want, got, what)
				}
			}
			check("R2Ts", tc.r2ts, st.Sent[pdu.OpR2T])
			check("Data-Outs", tc.dataOuts, st.Received[pdu.OpDataOut])

			got := make([]byte, tc.size)
			require.NoError(t, s.Do(ctxT(t), readCmd(16, got)))
			require.Equal(t, want, got)
		})
	}
}

// The LUN handle: io.ReaderAt and io.WriterAt over READ(16)/WRITE(16),
// split at the LUN's transfer limit, with alignment and range checks.
func TestLUNReadWriteAt(t *testing.T) {
	dev := iscsitest.NewLUN(fakeBlocks, fakeBlockSize)
	dev.Thin = true
	f := newFake(t, iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{0: iscsitest.NewLUN(8, 512), fakeLUN: dev},
		R2TSplit: 64 << 10, MaxOutstandingR2T: 4})
	s := f.dial(t)
	ctx := ctxT(t)
	luns, err := s.ReportLUNs(ctx)
	require.NoError(t, err)
	require.Equal(t, []uint16{0, fakeLUN}, luns)

	l, err := s.OpenLUN(ctx, fakeLUN)
	require.NoError(t, err)
	info := l.Info()
	require.Equal(t, int64(fakeBlocks*fakeBlockSize), l.Size())
	require.Equal(t, uint32(fakeBlockSize), info.BlockSize)
	require.Equal(t, dev.Serial(), info.Serial)
	require.NotEmpty(t, info.WWID)
	require.True(t, info.CanUnmap)
	require.Same(t, s, l.Session())

	for _, w := range []struct {
		off  int64
		size int
	}{{0, 512}, {4096, 64 << 10}, {1 << 20, 9 << 20}, {l.Size() - 128<<10, 128 << 10}} {
		want := pattern(w.size, byte(w.off>>9))
		n, err := l.WriteAt(want, w.off)
		require.NoError(t, err)
		require.Equal(t, w.size, n)
		require.Equal(t, want, f.atTarget(t, w.off, w.size))
		got := make([]byte, w.size)
		n, err = l.ReadAt(got, w.off)
		require.NoError(t, err)
		require.Equal(t, w.size, n)
		require.Equal(t, want, got)
	}
	// 9 MiB is more than the 8 MiB per command: two WRITE(16).
	require.Equal(t, 5, f.conn(t).Stats().Commands[0x8a])

	require.NoError(t, l.Flush(ctx))
	require.NoError(t, l.TestUnitReady(ctx))
	require.NoError(t, l.WriteZeroes(ctx, 4096, 8192, false))
	require.Equal(t, make([]byte, 8192), f.atTarget(t, 4096, 8192))
	require.NoError(t, l.Unmap(ctx, 1<<20, 1<<20))
	require.Equal(t, make([]byte, 1<<20), f.atTarget(t, 1<<20, 1<<20))

	_, err = l.ReadAt(make([]byte, 100), 0)
	require.ErrorIs(t, err, ErrUnaligned)
	_, err = l.WriteAt(make([]byte, 512), 100)
	require.ErrorIs(t, err, ErrUnaligned)
	_, err = l.ReadAt(make([]byte, 1024), l.Size()-512)
	require.ErrorIs(t, err, io.EOF)
	_, err = l.ReadAt(make([]byte, 512), -512)
	require.Error(t, err)

	// A command the target fails is a task error: a *SCSIError with sense.
	err = s.Do(ctx, readCmd(fakeBlocks, make([]byte, 512)))
	var se *SCSIError
	require.ErrorAs(t, err, &se)
	require.True(t, se.HasSense)
	require.Equal(t, pdu.StatusCheckCondition, se.Status)
	require.False(t, errors.Is(err, ErrConnection))
	require.NoError(t, s.Ping(ctx), "the session is fine after a task error")

	_, err = s.OpenLUN(ctx, 5)
	require.Error(t, err, "absent LUN")
}

// Many goroutines share one session; with a CmdSN window of one the
// commands go out one at a time, and none is sent outside the window.
func TestConcurrentCommands(t *testing.T) {
	for _, window := range []int{1, 4, 32} {
		t.Run("window="+itoa(window), func(t *testing.T) {
			f := newFake(t, iscsitest.Config{MaxCmdSNWindow: window, R2TSplit: 4096, MaxOutstandingR2T: 2})
			s := f.dial(t)
			runConcurrent(t, f, s, 64)
			require.Zero(t, f.conn(t).Stats().Dropped)
		})
	}
}

// runConcurrent writes and reads back n regions from n goroutines.
func runConcurrent(t *testing.T, f *fake, s *Session, n int) {
	t.Helper()
	const size = 24 << 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			lba := uint64(i * size / fakeBlockSize)
			want := pattern(size, byte(i))
			if err := s.Do(ctxT(t), writeCmd(lba, want)); err != nil {
				errs[i] = err
				return
			}
			got := make([]byte, size)
			if err := s.Do(ctxT(t), readCmd(lba, got)); err != nil {
				errs[i] = err
				return
			}
			if string(got) != string(want) {
				errs[i] = errors.New("read back differs")
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "goroutine %d", i)
		require.Equal(t, pattern(size, byte(i)), f.atTarget(t, int64(i*size), size))
	}
}
