package main

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// A session's ISID survives a restart (a new store over the same state
// directory); a second process meanwhile gets an ISID of its own rather
// than taking the first one's session over; keys are separate.
func TestISIDStoreStableAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	first := &isidStore{dir: dir, log: log}
	a := first.isid("iqn.i", "iqn.t", "127.0.0.1:3260")
	require.Equal(t, a, first.isid("iqn.i", "iqn.t", "127.0.0.1:3260"), "one ISID per session in a process")
	require.Equal(t, byte(pdu.ISIDTypeRandom), a[0]&0xc0)
	b := first.isid("iqn.i", "iqn.t", "127.0.0.2:3260")
	require.NotEqual(t, a, b, "one per portal")

	other := &isidStore{dir: dir, log: log}
	require.NotEqual(t, a, other.isid("iqn.i", "iqn.t", "127.0.0.1:3260"), "held by the first process")
	other.close()

	first.close()
	restarted := &isidStore{dir: dir, log: log}
	defer restarted.close()
	require.Equal(t, a, restarted.isid("iqn.i", "iqn.t", "127.0.0.1:3260"), "kept across restarts")
	require.Equal(t, b, restarted.isid("iqn.i", "iqn.t", "127.0.0.2:3260"))
}
