package multipath

import (
	"encoding"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// textCase is one multipath.conf value: what UnmarshalText makes of in,
// and what MarshalText writes back (out; in when empty).
type textCase struct {
	in   string
	want encoding.TextMarshaler
	out  string
}

// TestTunablesText: the multipath.conf types read and write their
// multipath.conf spellings; MarshalText's output reads back the same, and
// a bad value is an error naming it that leaves the value alone.
func TestTunablesText(t *testing.T) {
	check := func(t *testing.T, v interface {
		encoding.TextMarshaler
		encoding.TextUnmarshaler
	}, cases []textCase, bad ...string) {
		for _, c := range cases {
			require.NoError(t, v.UnmarshalText([]byte(c.in)), c.in)
			require.Equal(t, c.want, deref(v), c.in)
			b, err := v.MarshalText()
			require.NoError(t, err)
			out := c.out
			if out == "" {
				out = c.in
			}
			require.Equal(t, out, string(b), c.in)
		}
		before := deref(v)
		for _, in := range bad {
			err := v.UnmarshalText([]byte(in))
			require.ErrorContains(t, err, `"`+in+`"`)
			require.Equal(t, before, deref(v), "a bad value leaves the value alone")
		}
	}
	t.Run("NoPathRetry", func(t *testing.T) {
		check(t, new(NoPathRetry), []textCase{{"fail", NoPathRetryFail, ""}, {"0", NoPathRetryFail, "fail"},
			{"queue", NoPathRetryQueue, ""}, {"12", NoPathRetry(12), ""}}, "banana", "-1", "", "1.5")
	})
	t.Run("Failback", func(t *testing.T) {
		check(t, new(Failback), []textCase{{"immediate", FailbackImmediate, ""}, {"0", FailbackImmediate, "immediate"},
			{"manual", FailbackManual, ""}, {"followover", FailbackFollowover, ""},
			{"15", Failback(15 * time.Second), ""}}, "soon", "-3", "")
	})
	t.Run("GroupingPolicy", func(t *testing.T) {
		check(t, new(GroupingPolicy), []textCase{{"failover", GroupFailover, ""}, {"multibus", GroupMultibus, ""},
			{"group_by_prio", GroupByPrio, ""}, {"group_by_tpg", GroupByTPG, ""},
			{"group_by_serial", GroupMultibus, "multibus"}, {"group_by_node_name", GroupMultibus, "multibus"}},
			"by_magic", "")
	})
	t.Run("YesNo", func(t *testing.T) {
		check(t, new(YesNo), []textCase{{"yes", Yes, ""}, {"1", Yes, "yes"}, {"no", No, ""}, {"0", No, "no"}},
			"maybe", "")
	})
	for _, zero := range []encoding.TextMarshaler{NoPathRetry(0), Failback(0), GroupAuto, Unset} {
		b, err := zero.MarshalText()
		require.NoError(t, err)
		require.Empty(t, b, "unset is empty text: %T", zero)
	}
}

func deref(v any) encoding.TextMarshaler {
	switch p := v.(type) {
	case *NoPathRetry:
		return *p
	case *Failback:
		return *p
	case *GroupingPolicy:
		return *p
	case *YesNo:
		return *p
	}
	panic(v)
}
