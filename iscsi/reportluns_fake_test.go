package iscsi

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
)

// REPORT LUNS of any size: a list longer than the first allocation (256
// LUNs) is asked again with the length the target reports; LUNs past 255
// come in flat space addressing.
func TestReportLUNsAnySize(t *testing.T) {
	for _, n := range []int{1, 256, 257, 300, 4000} {
		luns := map[uint16]*iscsitest.LUN{}
		for i := range n {
			luns[uint16(i*3)] = iscsitest.NewLUN(8, 512)
		}
		f := newFake(t, iscsitest.Config{LUNs: luns})
		got, err := f.dial(t).ReportLUNs(ctxT(t))
		require.NoError(t, err, "%d LUNs", n)
		require.Len(t, got, n)
		for i, l := range got {
			require.Equal(t, uint16(i*3), l)
		}
	}
}
