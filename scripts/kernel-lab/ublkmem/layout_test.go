//go:build linux

package main

import (
	"context"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestLayout: the structs match the sizes and offsets of the 6.12 uapi
// headers (checked there with offsetof), and the ioctl encoding gives the
// UBLK_U_* values.
func TestLayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sqe", unsafe.Sizeof(sqe{}), sqe128Size},
		{"sqe.cmdOp", unsafe.Offsetof(sqe{}.cmdOp), 8},
		{"sqe.userData", unsafe.Offsetof(sqe{}.userData), 32},
		{"sqe.cmd", unsafe.Offsetof(sqe{}.cmd), uringCmdAreaOffset},
		{"cqe", unsafe.Sizeof(cqe{}), cqeSize},
		{"io_uring_params", unsafe.Sizeof(uringParams{}), uringParamsSize},
		{"io_uring_params.sq_off", unsafe.Offsetof(uringParams{}.sqOff), 40},
		{"io_uring_params.cq_off", unsafe.Offsetof(uringParams{}.cqOff), 80},
		{"ublksrv_ctrl_cmd", unsafe.Sizeof(ctrlCmd{}), ctrlCmdSize},
		{"ublksrv_ctrl_cmd.data", unsafe.Offsetof(ctrlCmd{}.data), 16},
		{"ublksrv_ctrl_dev_info", unsafe.Sizeof(devInfo{}), devInfoSize},
		{"ublksrv_ctrl_dev_info.dev_id", unsafe.Offsetof(devInfo{}.devID), 12},
		{"ublksrv_ctrl_dev_info.flags", unsafe.Offsetof(devInfo{}.flags), 24},
		{"ublksrv_io_desc", unsafe.Sizeof(ioDesc{}), ublkDescSize},
		{"ublksrv_io_cmd", unsafe.Sizeof(ioCmd{}), ioCmdSize},
		{"ublk_param_basic", unsafe.Sizeof(paramBasic{}), 32},
		{"ublk_param_basic.dev_sectors", unsafe.Offsetof(paramBasic{}.devSectors), 16},
		{"ublk_param_discard", unsafe.Sizeof(paramDiscard{}), 20},
		{"ublk_params.discard", unsafe.Offsetof(params{}.discard), 40},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"UBLK_U_CMD_ADD_DEV", iowr(ublkCmdAddDev, ctrlCmdSize), 0xc0207504},
		{"UBLK_U_CMD_DEL_DEV", iowr(ublkCmdDelDev, ctrlCmdSize), 0xc0207505},
		{"UBLK_U_CMD_START_DEV", iowr(ublkCmdStartDev, ctrlCmdSize), 0xc0207506},
		{"UBLK_U_CMD_STOP_DEV", iowr(ublkCmdStopDev, ctrlCmdSize), 0xc0207507},
		{"UBLK_U_CMD_SET_PARAMS", iowr(ublkCmdSetParams, ctrlCmdSize), 0xc0207508},
		{"UBLK_U_IO_FETCH_REQ", iowr(ublkIOFetchReq, ioCmdSize), 0xc0107520},
		{"UBLK_U_IO_COMMIT_AND_FETCH_REQ", iowr(ublkIOCommitAndFetch, ioCmdSize), 0xc0107521},
	} {
		if c.got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// TestServe: each operation against a small memory disk, as the queue
// thread serves it (serveDev on memDev).
func TestServe(t *testing.T) {
	st, err := newStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	buf := make([]byte, 8192)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	req := func(op uint32, sector uint64, sectors uint32) ioDesc {
		return ioDesc{opFlags: op, startSector: sector, nrSectors: sectors}
	}
	serve := func(d ioDesc, buf []byte) int32 {
		r, _ := serveDev(context.Background(), memDev{st}, d, buf)
		return r
	}
	if r := serve(req(ublkIOOpWrite, 8, 16), buf); r != 8192 {
		t.Fatalf("WRITE: %d", r)
	}
	out := make([]byte, 8192)
	if r := serve(req(ublkIOOpRead, 8, 16), out); r != 8192 || string(out) != string(buf) {
		t.Fatalf("READ: %d, data equal %v", r, string(out) == string(buf))
	}
	if r := serve(req(ublkIOOpWriteZeroes|1<<15, 9, 1), nil); r != 0 {
		t.Fatalf("WRITE_ZEROES: %d", r)
	}
	if r := serve(req(ublkIOOpDiscard, 10, 1), nil); r != 0 {
		t.Fatalf("DISCARD: %d", r)
	}
	serve(req(ublkIOOpRead, 8, 16), out)
	for i := range out {
		want := buf[i]
		if i >= 512 && i < 1536 {
			want = 0
		}
		if out[i] != want {
			t.Fatalf("byte %d after zeroing: %d, want %d", i, out[i], want)
		}
	}
	for name, c := range map[string]struct {
		d    ioDesc
		want int32
	}{
		"FLUSH":          {req(ublkIOOpFlush, 0, 0), 0},
		"FLUSH at -1":    {req(ublkIOOpFlush, ^uint64(0), 0), 0},
		"WRITE_SAME":     {req(ublkIOOpWriteSame, 0, 1), -int32(unix.EOPNOTSUPP)},
		"past the end":   {req(ublkIOOpRead, 2047, 2), -int32(unix.EIO)},
		"overflow":       {req(ublkIOOpRead, 1<<60, 1), -int32(unix.EIO)},
		"beyond the buf": {req(ublkIOOpRead, 0, 17), -int32(unix.EIO)},
	} {
		if r := serve(c.d, buf); r != c.want {
			t.Errorf("%s: %d, want %d", name, r, c.want)
		}
	}
}

// TestRingNop: the ring submits and reaps (IORING_OP_NOP) where the host
// allows io_uring.
func TestRingNop(t *testing.T) {
	r, err := newRing(8)
	if err != nil {
		t.Skip("no io_uring here:", err)
	}
	defer r.close()
	for round := 0; round < 5; round++ {
		for i := 0; i < 8; i++ {
			s, err := r.getSQE()
			if err != nil {
				t.Fatal(err)
			}
			s.userData = uint64(round*8 + i) // opcode 0 is IORING_OP_NOP
		}
		if _, err := r.getSQE(); err != errSQFull {
			t.Fatalf("ninth SQE: %v", err)
		}
		if err := r.enter(8); err != nil {
			t.Fatal(err)
		}
		var seen []uint64
		r.reap(func(c cqe) {
			if c.res != 0 {
				t.Errorf("NOP res %d", c.res)
			}
			seen = append(seen, c.userData)
		})
		if len(seen) != 8 || seen[0] != uint64(round*8) {
			t.Fatalf("round %d: CQEs %v", round, seen)
		}
	}
}
