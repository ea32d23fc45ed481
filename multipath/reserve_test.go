package multipath

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/stretchr/testify/require"
)

// prLUN is a LUN's persistent reservation state as SPC-4 §5.12 keeps it,
// per I_T nexus, for the fakes.
type prLUN struct {
	mu     sync.Mutex
	gen    uint32
	regs   map[string]uint64 // nexus -> key
	holder string            // nexus holding the reservation, "" none
	typ    scsi.PRType
	order  []string // "register NEXUS", "write NEXUS": what the target saw, in order
}

func newPRLUN() *prLUN { return &prLUN{regs: map[string]uint64{}} }

var errConflict = &iscsi.SCSIError{Status: 0x18} // RESERVATION CONFLICT

// prFake is a fake path (an I_T nexus named nexus) with reservations.
type prFake struct {
	*fakePath
	lun   *prLUN
	nexus string
	// Guarded by lun.mu: refuse fails this nexus's REGISTERs with that
	// error; lose applies them, then loses the answer with the connection.
	refuse error
	lose   bool
}

func (f *prFake) PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error) {
	if err := f.TUR(ctx); err != nil {
		return nil, err
	}
	l := f.lun
	l.mu.Lock()
	defer l.mu.Unlock()
	switch a {
	case scsi.PRInReadKeys:
		k := scsi.ReservationKeys{Generation: l.gen}
		for _, n := range slices.Sorted(mapKeys(l.regs)) {
			k.Keys = append(k.Keys, l.regs[n])
		}
		return k.AppendBinary(nil)
	case scsi.PRInReadReservation:
		r := scsi.Reservation{Generation: l.gen, Held: l.holder != ""}
		if r.Held {
			r.Key, r.Type = l.regs[l.holder], l.typ
		}
		return r.AppendBinary(nil)
	}
	return nil, senseErr(scsi.KeyIllegalRequest, 0x24, 0)
}

func mapKeys(m map[string]uint64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (f *prFake) PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, p scsi.PROutParameters) (err error) {
	if err := f.TUR(ctx); err != nil {
		return err
	}
	l := f.lun
	l.mu.Lock()
	defer l.mu.Unlock()
	mine, registered := l.regs[f.nexus]
	isReg := a == scsi.PROutRegister || a == scsi.PROutRegisterIgnore
	if isReg && f.refuse != nil {
		return f.refuse
	}
	if isReg && f.lose {
		defer f.set(func(f *fakePath) { f.down = true })
		defer func() { err = errFakeConn }()
	}
	if a != scsi.PROutRegisterIgnore && (registered && mine != p.Key || !registered && a != scsi.PROutRegister) {
		return errConflict
	}
	l.gen++
	switch a {
	case scsi.PROutRegister, scsi.PROutRegisterIgnore:
		l.order = append(l.order, "register "+f.nexus)
		if p.ServiceActionKey == 0 {
			delete(l.regs, f.nexus)
		} else {
			l.regs[f.nexus] = p.ServiceActionKey
		}
	case scsi.PROutReserve:
		if l.holder != "" && l.holder != f.nexus {
			return errConflict
		}
		l.holder, l.typ = f.nexus, t
	case scsi.PROutRelease:
		if l.holder == f.nexus {
			l.holder = ""
		}
	case scsi.PROutClear:
		clear(l.regs)
		l.holder = ""
	case scsi.PROutPreempt, scsi.PROutPreemptAndAbort:
		holderKey := l.regs[l.holder]
		for n, k := range l.regs {
			if k == p.ServiceActionKey && n != f.nexus {
				delete(l.regs, n)
			}
		}
		if l.holder != "" && holderKey == p.ServiceActionKey {
			l.holder, l.typ = f.nexus, t
		}
	}
	return nil
}

// WriteAtContext enforces Write Exclusive, Registrants Only (SPC-4 §5.12.10.1):
// only registered nexuses write.
func (f *prFake) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	f.lun.mu.Lock()
	_, registered := f.lun.regs[f.nexus]
	conflict := f.lun.holder != "" && !registered
	f.lun.order = append(f.lun.order, "write "+f.nexus)
	f.lun.mu.Unlock()
	if conflict {
		return 0, errConflict
	}
	return f.fakePath.WriteAtContext(ctx, p, off, fua)
}

func openPR(t *testing.T, cfg Config, fakes ...*prFake) *Device {
	t.Helper()
	ios := make([]pathIO, len(fakes))
	for i, f := range fakes {
		cfg.Portals = append(cfg.Portals, f.nexus)
		ios[i] = f
	}
	d, err := open(context.Background(), cfg.withDefaults(), ios)
	require.NoError(t, err)
	return d
}

func prFakes(lun *prLUN, disk *fakeDisk, names ...string) []*prFake {
	var out []*prFake
	for _, n := range names {
		out = append(out, &prFake{fakePath: newFake(disk), lun: lun, nexus: n})
	}
	return out
}

func registeredPaths(d *Device) map[string]bool {
	out := map[string]bool{}
	for _, g := range d.Status().Groups {
		for _, p := range g.Paths {
			out[p.Portal] = p.Registered
		}
	}
	return out
}

func TestReservationRegisterEveryPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lun, disk := newPRLUN(), newFakeDisk()
		fakes := prFakes(lun, disk, "a1", "a2", "a3")
		d := openPR(t, testConfig(Settings{ReservationKey: "0xabc"}), fakes...)
		defer closeDev(t, d)
		require.Equal(t, &ReservationStatus{Key: "0xabc", Source: "multipath.conf"}, d.Status().Reservation)

		ctx := context.Background()
		require.ErrorContains(t, d.Register(ctx, 0, 0xdef, false, false), "reservation_key is 0xabc")
		require.NoError(t, d.Register(ctx, 0, 0xabc, false, false))
		keys, err := d.ReadKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, []uint64{0xabc, 0xabc, 0xabc}, keys.Keys, "one registration per I_T nexus")
		require.Equal(t, map[string]bool{"a1": true, "a2": true, "a3": true}, registeredPaths(d))
		require.True(t, d.Status().Reservation.Registered)

		require.NoError(t, d.PersistentReserveOut(ctx, scsi.PROutReserve, scsi.PRWriteExclusiveRegistrantsOnly,
			scsi.PROutParameters{Key: 0xabc}))
		r, err := d.ReadReservation(ctx)
		require.NoError(t, err)
		require.Equal(t, scsi.Reservation{Generation: 4, Held: true, Key: 0xabc, Type: scsi.PRWriteExclusiveRegistrantsOnly}, r)
		_, err = d.WriteAtContext(ctx, make([]byte, 512), 0, false)
		require.NoError(t, err, "every path is registered: writes pass through any of them")

		require.NoError(t, d.PersistentReserveOut(ctx, scsi.PROutRelease, scsi.PRWriteExclusiveRegistrantsOnly,
			scsi.PROutParameters{Key: 0xabc}))
		require.NoError(t, d.Register(ctx, 0xabc, 0, false, false))
		keys, err = d.ReadKeys(ctx)
		require.NoError(t, err)
		require.Empty(t, keys.Keys)
		require.Equal(t, map[string]bool{"a1": false, "a2": false, "a3": false}, registeredPaths(d))
	})
}

// TestReservationConflictIsNotAPathError: another host holds the
// reservation; this host's writes get RESERVATION CONFLICT, returned at
// once, through one path, and no path is failed; TEST UNIT READY meeting
// a conflict keeps a path up.
func TestReservationConflictIsNotAPathError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lun, disk := newPRLUN(), newFakeDisk()
		fakes := prFakes(lun, disk, "a1", "a2")
		d := openPR(t, testConfig(Settings{}), fakes...)
		defer closeDev(t, d)
		other := prFakes(lun, disk, "b1")[0]
		ctx := context.Background()
		require.NoError(t, other.PersistentReserveOut(ctx, scsi.PROutRegister, 0, scsi.PROutParameters{ServiceActionKey: 0xb}))
		require.NoError(t, other.PersistentReserveOut(ctx, scsi.PROutReserve, scsi.PRWriteExclusiveRegistrantsOnly,
			scsi.PROutParameters{Key: 0xb}))
		for _, f := range fakes {
			f.set(func(f *fakePath) { f.turErr = errConflict })
		}
		for range 4 {
			_, err := d.WriteAtContext(ctx, make([]byte, 512), 0, false)
			var se *iscsi.SCSIError
			require.ErrorAs(t, err, &se)
			require.Equal(t, scsi.StatusReservationConflict, scsi.Status(se.Status))
		}
		time.Sleep(5 * time.Second) // checks with TEST UNIT READY conflicting
		require.Equal(t, []string{"a1", "a2"}, activePortals(d))
		_, err := d.ReadAtContext(ctx, make([]byte, 512), 0)
		require.NoError(t, err, "Write Exclusive: reads pass")
	})
}

// TestReservationReinstatedPathRegisteredFirst: a path that comes back
// registers the key (READ KEYS, REGISTER AND IGNORE EXISTING KEY) before
// any I/O goes to it, so writes under a Registrants Only reservation
// never meet a conflict; once another host preempted the key, a path
// that comes back is not registered again.
func TestReservationReinstatedPathRegisteredFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lun, disk := newPRLUN(), newFakeDisk()
		fakes := prFakes(lun, disk, "a1", "a2")
		d := openPR(t, testConfig(Settings{}), fakes...)
		defer closeDev(t, d)
		ctx := context.Background()
		require.NoError(t, d.Register(ctx, 0, 0xa, false, false))
		require.NoError(t, d.PersistentReserveOut(ctx, scsi.PROutReserve, scsi.PRWriteExclusiveRegistrantsOnly,
			scsi.PROutParameters{Key: 0xa}))
		fakes[1].set(func(f *fakePath) { f.down = true })
		d.failPath(d.paths[1], errFakeConn)
		lun.mu.Lock()
		delete(lun.regs, "a2") // the target lost this nexus's registration
		lun.order = nil
		lun.mu.Unlock()
		fakes[1].restore()
		for range 200 {
			_, err := d.WriteAtContext(ctx, make([]byte, 512), 0, false)
			require.NoError(t, err)
			time.Sleep(20 * time.Millisecond)
		}
		require.Equal(t, []string{"a1", "a2"}, activePortals(d))
		lun.mu.Lock()
		first := slices.IndexFunc(lun.order, func(s string) bool { return s == "write a2" })
		reg := slices.Index(lun.order, "register a2")
		lun.mu.Unlock()
		require.GreaterOrEqual(t, first, 0, "a2 carried I/O again")
		require.Less(t, reg, first, "a2 registered before its first write")
		require.True(t, registeredPaths(d)["a2"])

		// Host B preempts A: A's writes conflict and fail no path; a path
		// of A that comes back stays unregistered.
		other := prFakes(lun, disk, "b1")[0]
		require.NoError(t, other.PersistentReserveOut(ctx, scsi.PROutRegister, 0, scsi.PROutParameters{ServiceActionKey: 0xb}))
		require.NoError(t, other.PersistentReserveOut(ctx, scsi.PROutPreemptAndAbort, scsi.PRWriteExclusiveRegistrantsOnly,
			scsi.PROutParameters{Key: 0xb, ServiceActionKey: 0xa}))
		_, err := d.WriteAtContext(ctx, make([]byte, 512), 0, false)
		require.ErrorIs(t, err, error(errConflict))
		require.ErrorIs(t, err, ErrReservationConflict)
		require.False(t, d.Reservation().Registered, "the first conflict found the key gone")
		require.Equal(t, map[string]bool{"a1": false, "a2": false}, registeredPaths(d))
		d.failPath(d.paths[0], errFakeConn)
		time.Sleep(2 * time.Second)
		require.Equal(t, []string{"a1", "a2"}, activePortals(d))
		keys, err := d.ReadKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, []uint64{0xb}, keys.Keys, "the fence holds: A did not register again")
		require.False(t, registeredPaths(d)["a1"])
	})
}

func TestParseReservationKey(t *testing.T) {
	for v, want := range map[string]uint64{"0x1234": 0x1234, "abc": 0xabc, "0XFFFFFFFFFFFFFFFF": ^uint64(0)} {
		k, aptpl, err := ParseReservationKey(v)
		require.NoError(t, err, v)
		require.Equal(t, want, k)
		require.False(t, aptpl)
	}
	for _, v := range []string{"0x0", "", "0x", "0x12345678901234567", "g"} {
		_, _, err := ParseReservationKey(v)
		require.Error(t, err, v)
	}
}

// TestPRKeysFile: reservation_key "file" reads the key from the prkeys
// file (multipath-tools' format) and Register writes it there.
func TestPRKeysFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multipath", "prkeys")
	require.NoError(t, writePRKey(path, "3600other", 0x77, false))
	require.NoError(t, writePRKey(path, testWWID, 0x1234, true))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, prkeysHeader+"0x0000000000000077 3600other\n0X0000000000001234 "+testWWID+"\n", string(b))
	k, aptpl, ok, err := readPRKey(path, testWWID)
	require.NoError(t, err)
	require.True(t, ok && aptpl)
	require.Equal(t, uint64(0x1234), k)

	synctest.Test(t, func(t *testing.T) {
		lun, disk := newPRLUN(), newFakeDisk()
		lun.regs["a1"], lun.regs["a2"] = 0x1234, 0x1234 // registered before a restart
		cfg := testConfig(Settings{ReservationKey: ReservationKeyFile})
		cfg.PRKeysFile = path
		d := openPR(t, cfg, prFakes(lun, disk, "a1", "a2")...)
		defer closeDev(t, d)
		require.Equal(t, &ReservationStatus{Key: "0x1234", APTPL: true, Source: "file", Registered: true},
			d.Status().Reservation)
		require.Equal(t, map[string]bool{"a1": true, "a2": true}, registeredPaths(d))
		ctx := context.Background()
		require.NoError(t, d.Register(ctx, 0x1234, 0x99, false, false))
		_, _, _, err := readPRKey(path, testWWID)
		require.NoError(t, err)
		k, aptpl, ok, _ := readPRKey(path, testWWID)
		require.Equal(t, []any{uint64(0x99), false, true}, []any{k, aptpl, ok})
		require.NoError(t, d.PersistentReserveOut(ctx, scsi.PROutClear, 0, scsi.PROutParameters{Key: 0x99}))
		_, _, ok, _ = readPRKey(path, testWWID)
		require.False(t, ok, "CLEAR removes the key from the file")
		k, _, ok, _ = readPRKey(path, "3600other")
		require.True(t, ok)
		require.Equal(t, uint64(0x77), k)
	})
}

// TestReservationRegisterRollback: when REGISTER fails through some paths
// (the target refuses it on one nexus, or a connection dies), the paths
// that registered are rolled back, as mpathpersist does, so the LUN is
// never left registered through only some of the device's nexuses; the
// error names the failed paths and the device's key is not registered.
func TestReservationRegisterRollback(t *testing.T) {
	illegal := senseErr(scsi.KeyIllegalRequest, 0x26, 0) // INVALID FIELD IN PARAMETER LIST
	none := map[string]bool{"a1": false, "a2": false, "a3": false}
	tests := []struct {
		name    string
		break_  func(f *prFake)
		first   uint64 // registered by the device before
		before  map[string]uint64
		ignore  bool
		want    []uint64        // READ KEYS after
		wantReg map[string]bool // status: registered
	}{
		{name: "refused", break_: func(f *prFake) { f.refuse = illegal }, wantReg: none},
		{name: "conflict", break_: func(f *prFake) { f.refuse = errConflict }, wantReg: none},
		{name: "connection down", break_: func(f *prFake) { f.set(func(f *fakePath) { f.down = true }) }, wantReg: none},
		// The REGISTER reached the target, the answer did not: that nexus
		// keeps the key (no path left to undo it through), the others are
		// rolled back.
		{name: "answer lost", break_: func(f *prFake) { f.lose = true }, want: []uint64{0xb}, wantReg: none},
		// A key change is rolled back to the old key; the checker registers
		// the old key again through a2 (its state is unknown).
		{name: "key change", break_: func(f *prFake) { f.refuse = illegal }, first: 0xa,
			want: []uint64{0xa, 0xa, 0xa}, wantReg: map[string]bool{"a1": true, "a2": false, "a3": true}},
		{name: "ignore existing key", break_: func(f *prFake) { f.refuse = illegal }, ignore: true,
			before: map[string]uint64{"a1": 0xa, "a3": 0xa}, wantReg: none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lun, disk := newPRLUN(), newFakeDisk()
				maps.Copy(lun.regs, tt.before)
				fakes := prFakes(lun, disk, "a1", "a2", "a3")
				d := openPR(t, testConfig(Settings{}), fakes...)
				defer closeDev(t, d)
				ctx := context.Background()
				if tt.first != 0 {
					require.NoError(t, d.Register(ctx, 0, tt.first, false, false))
				}
				lun.mu.Lock()
				tt.break_(fakes[1])
				lun.mu.Unlock()

				err := d.Register(ctx, tt.first, 0xb, tt.ignore, false)
				require.ErrorContains(t, err, "register key 0xb failed through a2 (rolled back through a1, a3)")
				keys, err := d.ReadKeys(ctx)
				require.NoError(t, err)
				require.Equal(t, tt.want, keys.Keys)
				require.Equal(t, tt.wantReg, registeredPaths(d))
				require.Equal(t, tt.first != 0, d.Reservation().Registered)
			})
		})
	}
}

// TestReservationRollbackIncomplete: a path that registered and then
// cannot be rolled back is named too.
func TestReservationRollbackIncomplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lun, disk := newPRLUN(), newFakeDisk()
		fakes := prFakes(lun, disk, "a1", "a2")
		d := openPR(t, testConfig(Settings{}), fakes...)
		defer closeDev(t, d)
		fakes[1].refuse = errConflict
		fakes[0].lose = true // registers, then its connection dies: no rollback through it
		err := d.Register(context.Background(), 0, 0xb, false, false)
		require.ErrorContains(t, err, "register key 0xb failed through a1, a2 (nothing to roll back)")
		require.False(t, d.Reservation().Registered)
	})
}

// TestReservationUnsupportedAction: a service action the target does not
// implement (ILLEGAL REQUEST, INVALID FIELD IN CDB) says so.
func TestReservationUnsupportedAction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lun, disk := newPRLUN(), newFakeDisk()
		d := openPR(t, testConfig(Settings{}), prFakes(lun, disk, "a1", "a2")...)
		defer closeDev(t, d)
		_, err := d.PersistentReserveIn(context.Background(), scsi.PRInReadFullStatus)
		require.ErrorIs(t, err, errors.ErrUnsupported)
		require.ErrorContains(t, err, "multipath "+d.Name()+": the target does not support READ FULL STATUS (")
		require.Len(t, activePortals(d), 2, "no path failed")
	})
}
