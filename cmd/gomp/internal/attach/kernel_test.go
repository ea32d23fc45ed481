package attach

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/nbd/kernel"
)

// fakeKernel is a kernelDevice whose connections end when told to.
type fakeKernel struct {
	index int
	mode  kernel.AttachMode
	done  chan struct{}
	err   error

	mu           sync.Mutex
	disconnected bool
}

func newFakeKernel(index int, mode kernel.AttachMode) *fakeKernel {
	return &fakeKernel{index: index, mode: mode, done: make(chan struct{})}
}

func (f *fakeKernel) end(err error)           { f.err = err; close(f.done) }
func (f *fakeKernel) Done() <-chan struct{}   { return f.done }
func (f *fakeKernel) Wait() error             { <-f.done; return f.err }
func (f *fakeKernel) Index() int              { return f.index }
func (f *fakeKernel) Mode() kernel.AttachMode { return f.mode }
func (f *fakeKernel) Path() string            { return "/dev/nbd7" }
func (f *fakeKernel) Disconnect(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnected = true
	return nil
}

// reconfigurer hands out fresh fake devices, failing the first fails calls.
type reconfigurer struct {
	mu      sync.Mutex
	fails   int
	indexes []int
	made    chan *fakeKernel
}

func (r *reconfigurer) reconfigure(_ context.Context, index int) (kernelDevice, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.indexes = append(r.indexes, index)
	if r.fails > 0 {
		r.fails--
		return nil, errors.New("EBUSY")
	}
	d := newFakeKernel(index, kernel.AttachNetlink)
	r.made <- d
	return d, nil
}

// Connections that fail are replaced on the same index, again and again;
// stop returns the device served now, which is the one to disconnect.
func TestKernelSupervisorReconfigures(t *testing.T) {
	first := newFakeKernel(7, kernel.AttachNetlink)
	r := &reconfigurer{fails: 1, made: make(chan *fakeKernel, 4)}
	s := startKernelSupervisor(first, slog.New(slog.DiscardHandler), r.reconfigure)
	first.end(errors.New("read: connection reset"))
	second := <-r.made
	require.Equal(t, []int{7, 7}, r.indexes, "one failed attempt, then success, both on nbd7")
	second.end(errors.New("broken pipe"))
	third := <-r.made
	d := s.stop()
	require.Same(t, third, d)
	require.NoError(t, d.Disconnect(context.Background()))
	require.True(t, third.disconnected)
}

// A clean end (the kernel disconnected the device) and an ioctl device are
// not reconfigured; stop after that still returns.
func TestKernelSupervisorLeavesCleanEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode kernel.AttachMode
		err  error
	}{
		{"disconnected by the kernel", kernel.AttachNetlink, nil},
		{"ioctl device", kernel.AttachIoctl, errors.New("reset")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newFakeKernel(3, tc.mode)
			r := &reconfigurer{made: make(chan *fakeKernel, 1)}
			s := startKernelSupervisor(dev, slog.New(slog.DiscardHandler), r.reconfigure)
			dev.end(tc.err)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				t.Fatal("the supervisor did not end")
			}
			require.Same(t, dev, s.stop())
			require.Empty(t, r.indexes)
		})
	}
}
