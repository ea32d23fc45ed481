package serial

import "testing"

func TestSerial(t *testing.T) {
	cases := []struct {
		a, b uint32
		less bool
	}{
		{0, 1, true},
		{1, 0, false},
		{0xffffffff, 0, true}, // wrap
		{0, 0xffffffff, false},
		{5, 5, false},
		{0, 0x7fffffff, true},
		{0, 0x80000000, false}, // exactly 2^31 apart: unordered
		{0x80000000, 0, false},
		{0xfffffff0, 0x10, true},
	}
	for _, c := range cases {
		if got := Less(c.a, c.b); got != c.less {
			t.Errorf("Less(%#x, %#x) = %v, want %v", c.a, c.b, got, c.less)
		}
		if LessEq(c.a, c.b) != (c.less || c.a == c.b) {
			t.Errorf("LessEq(%#x, %#x) wrong", c.a, c.b)
		}
	}
	if Max(0xfffffffe, 2) != 2 || Max(2, 0xfffffffe) != 2 {
		t.Error("Max across the wrap")
	}
}

func TestWindow(t *testing.T) {
	cases := []struct{ next, max, want uint32 }{
		{10, 41, 32},
		{10, 10, 1},
		{10, 9, 0}, // MaxCmdSN = ExpCmdSN - 1: closed
		{0, 0xffffffff, 0},
		{0xfffffffe, 1, 4}, // across the wrap
	}
	for _, c := range cases {
		if got := Window(c.next, c.max); got != c.want {
			t.Errorf("Window(%#x, %#x) = %d, want %d", c.next, c.max, got, c.want)
		}
	}
}
