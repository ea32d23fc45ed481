package multipath

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EventKind is the kind of a state change.
type EventKind uint8

// Event kinds.
const (
	EventPathFailed         EventKind = iota + 1 // a path stopped carrying I/O
	EventPathReinstated                          // a path carries I/O again
	EventPathState                               // checker state changed (ghost, pending, delayed, refused…)
	EventPathPriority                            // a path's priority changed
	EventGroupSwitched                           // I/O moved to another path group
	EventNoPath                                  // the last usable path is gone
	EventQueueingExpired                         // no_path_retry ran out: queued I/O fails
	EventQueueingDisabled                        // DisableQueueing
	EventQueueingRestored                        // RestoreQueueing
	EventPathStalled                             // I/O on a path made no progress for IOTimeout
	EventClosed                                  // Close finished with the paths
	EventPathsRestored                           // a path is usable again after none was
	EventGroupActivated                          // SET TARGET PORT GROUPS made a standby group active
	EventAccessStateChanged                      // a unit attention announced changed ALUA states
)

var eventNames = [...]string{"", "path failed", "path reinstated", "path state", "path priority",
	"group switched", "no path", "queueing expired", "queueing disabled", "queueing restored",
	"path stalled", "closed", "paths restored", "group activated", "access state changed"}

// String returns a short description such as "path failed", or
// "EventKind(N)" for an unknown value.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one state change of a device, for logs and monitoring.
type Event struct {
	Time   time.Time
	Kind   EventKind
	Device string    // the device's name
	WWID   string    // the device's WWID
	Portal string    // the path, for path events
	State  PathState // the path's checker state, for path events
	Prio   int       // EventPathPriority: the new priority
	// Group and FromGroup are indexes into Status.Groups, for
	// EventGroupSwitched (FromGroup -1 when there was none).
	Group, FromGroup int
	Msg              string // the cause, in words
	Err              error  // the error behind it, if any
}

// emitLocked queues an event for the dispatcher. A device event caused
// by a path's change (no path, group switched, …) names that path.
// Device.mu held.
func (d *Device) emitLocked(e Event) {
	e.Time, e.Device, e.WWID = time.Now(), d.name, d.wwid
	if e.Portal == "" && d.trigger != nil {
		e.Portal, e.State = d.trigger.portal, d.trigger.state
	}
	d.countEventLocked(&e)
	d.events = append(d.events, e)
	select {
	case d.evWake <- struct{}{}:
	default:
	}
}

// dispatch logs events and hands them to Config.OnEvent, in order, off
// the I/O path. It drains the queue before returning at Close.
func (d *Device) dispatch() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		batch := d.events
		d.events = nil
		d.mu.Unlock()
		closed := false
		for _, e := range batch {
			d.deliver(e)
			closed = closed || e.Kind == EventClosed
		}
		if closed {
			return
		}
		<-d.evWake
	}
}

func (d *Device) deliver(e Event) {
	level := slog.LevelInfo
	switch e.Kind {
	case EventPathFailed, EventNoPath, EventQueueingExpired, EventPathStalled:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("device", e.Device)}
	if e.Portal != "" {
		attrs = append(attrs, slog.String("portal", e.Portal), slog.String("state", e.State.String()))
	}
	if e.Kind == EventGroupSwitched {
		attrs = append(attrs, slog.Int("group", e.Group), slog.Int("from", e.FromGroup))
	}
	if e.Msg != "" {
		attrs = append(attrs, slog.String("cause", e.Msg))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.Any("err", e.Err))
	}
	d.log.LogAttrs(context.Background(), level, "multipath "+e.Kind.String(), attrs...)
	if d.cfg.OnEvent != nil {
		d.cfg.OnEvent(e)
	}
}
