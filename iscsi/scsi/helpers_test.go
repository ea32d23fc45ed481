package scsi

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// cat joins byte slices, so golden inputs can be written field by field.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// pad returns s as a field of n bytes padded with c.
func pad(s string, n int, c byte) []byte {
	b := bytes.Repeat([]byte{c}, n)
	copy(b, s)
	return b
}

// requirePrefixes checks every proper prefix of in, since every decoder
// must fail cleanly on a truncated input: the parser must not panic;
// prefixes shorter than minOK must fail with a
// *TruncatedError whose Need is more than the prefix and at most len(in);
// longer ones must succeed, and consistent checks their result.
func requirePrefixes[T any](t *testing.T, in []byte, minOK int, parse func([]byte) (T, error),
	consistent func(t *testing.T, n int, got T)) {
	t.Helper()
	for n := range len(in) {
		got, err := parse(in[:n:n])
		if n >= minOK {
			require.NoError(t, err, "prefix of %d bytes", n)
			if consistent != nil {
				consistent(t, n, got)
			}
			continue
		}
		var te *TruncatedError
		require.ErrorAs(t, err, &te, "prefix of %d bytes", n)
		require.True(t, errors.Is(err, ErrTruncated))
		require.Greater(t, te.Need, n, "prefix of %d bytes: %v", n, err)
		require.LessOrEqual(t, te.Need, len(in), "prefix of %d bytes: %v", n, err)
	}
}

// requireSubset checks that every field of partial is zero or equal to the
// same field of full: a partial result never invents a value.
func requireSubset(t *testing.T, full, partial any, msg string) {
	t.Helper()
	fv, pv := reflect.ValueOf(full), reflect.ValueOf(partial)
	for i := range fv.NumField() {
		f, p := fv.Field(i), pv.Field(i)
		if !p.IsZero() && !reflect.DeepEqual(f.Interface(), p.Interface()) {
			t.Fatalf("%s: field %s = %v, full parse has %v", msg, fv.Type().Field(i).Name, p, f)
		}
	}
}
