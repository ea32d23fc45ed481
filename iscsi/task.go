package iscsi

import (
	"sync/atomic"

	"github.com/gomp-dev/gomp/pdu"
)

// Command is one SCSI command and its results. A Command may be reused
// after Do returns; Do reads CDB and Write and writes into Read, and none of
// them may be touched by the caller while Do runs.
type Command struct {
	LUN   uint16
	CDB   []byte
	Read  []byte       // Data-In lands here; len(Read) is the expected length
	Write []byte       // Data-Out comes from here
	Attr  pdu.TaskAttr // zero means Simple

	// Results, set by Do.
	Status pdu.SCSIStatus
	// Residual is the residual count when the target moved less (positive,
	// underflow) or was asked for less than it had (negative, overflow).
	Residual int
}

type taskKind uint8

const (
	kindSCSI taskKind = iota
	kindNOP
	kindTMF
	kindLogout
	kindText
)

// task is the initiator's state for one ITT. Fields after mu-guarded ones
// are documented with their owner.
type task struct {
	itt  uint32
	kind taskKind
	conn *conn
	cmd  *Command
	req  pdu.SCSICommand // the command PDU; owned by the writer once queued
	sig  chan struct{}   // cap 1: finished or busy reached 0

	// owned by the reader goroutine while the task is in flight
	expDataSN uint32
	received  uint32
	solicited uint32 // end of the bytes the R2Ts so far asked for
	// lengths of cmd.Read and cmd.Write, fixed at submit: an abandoned
	// task's Command belongs to the caller again and is not looked at.
	readLen, writeLen uint32

	// guarded by Session.mu
	finished  bool
	err       error
	busy      int  // reads into / queued writes from the caller's buffers
	abandoned bool // the caller stopped waiting (context); data is discarded
	senseLen  int
	sense     [252]byte
	tmfResp   pdu.TMFResponse
	logout    pdu.LogoutResponse

	abandonedFlag atomic.Bool // mirror of abandoned for the writer
}

// newPooledTask is the New of Session.taskPool. The pool is per session,
// not global: a task's channel belongs to the testing/synctest bubble it
// was made in, and must not reach a session outside that bubble.
func newPooledTask() any { return &task{sig: make(chan struct{}, 1)} }

func (s *Session) newTask(kind taskKind) *task {
	t := s.taskPool.Get().(*task)
	sig := t.sig
	*t = task{kind: kind, sig: sig}
	select { // drain a stale signal
	case <-sig:
	default:
	}
	return t
}

// signal wakes the goroutine waiting in Do; it never blocks.
func (t *task) signal() {
	select {
	case t.sig <- struct{}{}:
	default:
	}
}

// quiet reports whether the caller's buffers are no longer in use.
func (t *task) quiet() bool { return t.finished && t.busy == 0 }
