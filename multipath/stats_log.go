package multipath

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// deviceLogHandler adds the device's name to the records of the iSCSI
// sessions under it (connection lost, reconnect attempts, logins), once
// the name is known: the sessions log in before the device is named.
type deviceLogHandler struct {
	slog.Handler
	name *atomic.Pointer[string]
}

// pathLogger returns the logger for a device's sessions and the pointer
// to store the device's name in.
func pathLogger(log *slog.Logger) (*slog.Logger, *atomic.Pointer[string]) {
	name := new(atomic.Pointer[string])
	return slog.New(deviceLogHandler{Handler: log.Handler(), name: name}), name
}

// Handle adds device=NAME when the name is known.
func (h deviceLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if n := h.name.Load(); n != nil {
		r = r.Clone()
		r.AddAttrs(slog.String("device", *n))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the name.
func (h deviceLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return deviceLogHandler{Handler: h.Handler.WithAttrs(attrs), name: h.name}
}

// WithGroup keeps the name (which then lands in the group).
func (h deviceLogHandler) WithGroup(g string) slog.Handler {
	return deviceLogHandler{Handler: h.Handler.WithGroup(g), name: h.name}
}
