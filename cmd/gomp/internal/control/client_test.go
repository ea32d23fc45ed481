package control

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClientJSONBounded: an answer larger than the bound is an
// error, not an unbounded allocation.
func TestClientJSONBounded(t *testing.T) {
	var v any
	big := `"` + strings.Repeat("a", maxResponse) + `"`
	require.ErrorContains(t, decodeJSON(strings.NewReader(big), &v), "larger than")
	var st Status
	require.NoError(t, decodeJSON(strings.NewReader(`{"pid":7,"started":"2026-01-02T03:04:05Z"}`), &st))
	require.Equal(t, 7, st.PID)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), st.Started.UTC())
}

// FuzzClientJSON: whatever a control socket answers, decoding
// returns (no panic), and what decodes re-encodes and decodes to the same
// value.
func FuzzClientJSON(f *testing.F) {
	f.Add([]byte(`{"device":{"name":"mem","wwid":"36001405"},"exports":{"uri":"nbd+unix:///mem?socket=/x"},"pid":1}`))
	f.Add([]byte(`[{"pid":1}]`))
	f.Add([]byte(`{"device":{"groups":[{"paths":[{"portal":"a"}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var st Status
		if decodeJSON(bytes.NewReader(data), &st) != nil {
			return
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("re-encoding %q: %v", data, err)
		}
		var again Status
		if err := decodeJSON(bytes.NewReader(b), &again); err != nil {
			t.Fatalf("decoding our own %s: %v", b, err)
		}
		b2, _ := json.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed %s to %s", b, b2)
		}
	})
}
