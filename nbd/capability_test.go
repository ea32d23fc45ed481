package nbd

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// limited is a memory backend that says it cannot trim or zero.
type limited struct{ *MemoryBackend }

func (limited) CanTrim() bool { return false }
func (limited) CanZero() bool { return false }

// noFUA is a memory backend that says FUA is not worth asking for.
type noFUA struct{ *MemoryBackend }

func (noFUA) CanFUA() bool { return false }

// noFlush is a memory backend whose writes need no flush.
type noFlush struct{ *MemoryBackend }

func (noFlush) CanFlush() bool { return false }

// claims says it can do everything but has no Flush, Trim or WriteZeroes.
type claims struct{ plainBackend }

func (claims) CanFlush() bool     { return true }
func (claims) CanFUA() bool       { return true }
func (claims) CanTrim() bool      { return true }
func (claims) CanZero() bool      { return true }
func (claims) CanMultiConn() bool { return false }
func (claims) ReadOnly() bool     { return false }

// flushOnly has Flush but not Capable: it is taken at its word.
type flushOnly struct{ plainBackend }

func (flushOnly) Flush(context.Context) error { return nil }

func TestExportFlagsHonourCapabilities(t *testing.T) {
	full := ExportFlags(NewMemory(1 << 20))
	require.NotZero(t, full&FlagSendTrim)
	require.NotZero(t, full&FlagSendWriteZeroes)
	f := ExportFlags(limited{NewMemory(1 << 20)})
	require.Zero(t, f&FlagSendTrim, "a backend that cannot trim must not advertise TRIM")
	require.Zero(t, f&FlagSendWriteZeroes)
	require.NotZero(t, f&FlagSendFlush)
	require.NotZero(t, f&FlagSendFUA)

	require.Equal(t, full&^FlagSendFUA, ExportFlags(noFUA{NewMemory(1 << 20)}))
	require.Equal(t, full&^(FlagSendFlush|FlagSendFUA), ExportFlags(noFlush{NewMemory(1 << 20)}),
		"no flush, no FUA")
	require.Equal(t, FlagHasFlags, ExportFlags(claims{plainBackend{NewMemory(1)}}),
		"capabilities without the methods are not advertised")
	require.Equal(t, FlagHasFlags|FlagSendFlush|FlagSendFUA, ExportFlags(flushOnly{plainBackend{NewMemory(1)}}),
		"a Flusher without Capable flushes and takes FUA")
}
