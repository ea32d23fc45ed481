package nbd

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassOf(t *testing.T) {
	for _, tc := range []struct{ n, class, size int }{
		{1, 0, 4096}, {4096, 0, 4096}, {4097, 1, 8192}, {512 << 10, 7, 512 << 10},
		{1<<20 + 1, 9, 2 << 20}, {32 << 20, 13, 32 << 20}, {1 << 30, numClasses - 1, 1 << 30},
	} {
		require.Equal(t, tc.class, classOf(tc.n), "n=%d", tc.n)
		require.Equal(t, tc.size, 1<<(classOf(tc.n)+minClassShift))
	}
}

func TestPoolReuse(t *testing.T) {
	var p bufferPool
	b := p.get(5000)
	require.Len(t, b.b, 5000)
	require.Equal(t, 8192, cap(b.b))
	p.put(b)
	allocs := testing.AllocsPerRun(100, func() {
		b := p.get(6000)
		p.put(b)
	})
	require.Zero(t, allocs)
}
