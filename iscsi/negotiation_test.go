package iscsi

import (
	"reflect"
	"testing"

	"github.com/gomp-dev/gomp/iscsi/internal/chap"
	"github.com/gomp-dev/gomp/iscsi/internal/negotiate"
	"github.com/stretchr/testify/require"
)

// TestNegotiationConfig checks that Negotiation.config carries every field
// to the negotiator: each field set to a distinct nonzero value must come
// out under the same name with the same value.
func TestNegotiationConfig(t *testing.T) {
	var n Negotiation
	v := reflect.ValueOf(&n).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{v.Type().Field(i).Name}))
		case reflect.Uint8:
			f.SetUint(uint64(i + 1))
		default:
			f.SetInt(int64(i + 1))
		}
	}
	c := reflect.ValueOf(n.config())
	require.Equal(t, v.NumField(), c.NumField(), "Negotiation and negotiate.Config differ in fields")
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		got := c.FieldByName(name)
		require.True(t, got.IsValid(), "negotiate.Config has no field %s", name)
		if got.Kind() == reflect.Slice {
			require.Equal(t, v.Field(i).Interface(), got.Interface(), name)
			continue
		}
		require.Equal(t, number(v.Field(i)), number(got), name)
	}
}

// number returns an integer field's value whatever its signedness.
func number(v reflect.Value) int64 {
	if v.CanUint() {
		return int64(v.Uint())
	}
	return v.Int()
}

// TestPublicConstants checks that the public mirrors of internal constants
// keep the internal values, since they are converted by value.
func TestPublicConstants(t *testing.T) {
	require.Equal(t, negotiate.Default, negotiate.Choice(ProposeDefault))
	require.Equal(t, negotiate.Yes, negotiate.Choice(ProposeYes))
	require.Equal(t, negotiate.No, negotiate.Choice(ProposeNo))
	require.Equal(t, chap.MD5, chap.Algorithm(CHAPMD5))
	require.Equal(t, chap.SHA1, chap.Algorithm(CHAPSHA1))
	require.Equal(t, chap.SHA256, chap.Algorithm(CHAPSHA256))
	require.Equal(t, chap.SHA3_256, chap.Algorithm(CHAPSHA3256))
	require.Equal(t, "[redacted]", Secret("x").String())
	require.Equal(t, negotiate.Defaults(), negotiate.Params(Params(negotiate.Defaults())))
}
