package nbd

import (
	"math/bits"
	"sync"
)

// Buffer size classes: powers of two from 4 KiB to 1 GiB. A request of n
// bytes gets a buffer from the smallest class that holds n, so a pooled
// buffer wastes at most half its size.
const (
	minClassShift = 12
	maxClassShift = 30
	numClasses    = maxClassShift - minClassShift + 1
)

// buffer is a pooled request buffer. b has the length of the request; its
// capacity is the class size.
type buffer struct {
	b     []byte
	class int8
}

// bufferPool hands out request buffers by size class. The zero value is ready
// to use. Pointers are pooled, so Get and Put allocate nothing once warm.
type bufferPool struct {
	classes [numClasses]sync.Pool
}

// classOf returns the class index for n bytes (n ≤ 1 GiB).
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// get returns a buffer of length n (0 < n ≤ 1 GiB). Its contents are
// undefined.
func (p *bufferPool) get(n int) *buffer {
	c := classOf(n)
	if v := p.classes[c].Get(); v != nil {
		buf := v.(*buffer)
		buf.b = buf.b[:n]
		return buf
	}
	return &buffer{b: make([]byte, n, 1<<(c+minClassShift)), class: int8(c)}
}

// put returns buf to its class. buf must not be used afterwards.
func (p *bufferPool) put(buf *buffer) {
	if buf != nil {
		p.classes[buf.class].Put(buf)
	}
}
