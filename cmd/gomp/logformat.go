package main

import (
	"io"
	"log/slog"
)

// logFormats are --log-format's values.
var logFormats = []string{"text", "json"}

// checkLogFormat refuses an unknown --log-format with a usage error.
func checkLogFormat(format string) error {
	for _, f := range logFormats {
		if format == f {
			return nil
		}
	}
	return usagef("--log-format %q: want text or json", format)
}

// logLevel is what the logs show: everything with -v; state changes
// (Info) for a long-running command such as attach; warnings otherwise.
func (g *globalOpts) logLevel() slog.Level {
	switch {
	case g.verbose:
		return slog.LevelDebug
	case g.daemon:
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// newLogger returns a slog logger writing format ("text" or "json",
// checked by checkLogFormat) to w. Each record is one line: in JSON, one
// object with time, level, msg and the attributes (device, portal,
// cause, err, …) as fields.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
