package nbd

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// limited is a memory backend that says it cannot trim or zero.
type limited struct{ *MemoryBackend }

func (limited) CanTrim() bool { return false }
func (limited) CanZero() bool { return false }

func TestExportFlagsHonourCapabilities(t *testing.T) {
	full := ExportFlags(NewMemory(1 << 20))
	require.NotZero(t, full&FlagSendTrim)
	require.NotZero(t, full&FlagSendWriteZeroes)
	f := ExportFlags(limited{NewMemory(1 << 20)})
	require.Zero(t, f&FlagSendTrim, "a backend that cannot trim must not advertise TRIM")
	require.Zero(t, f&FlagSendWriteZeroes)
	require.NotZero(t, f&FlagSendFlush)
	require.NotZero(t, f&FlagSendFUA)
}
