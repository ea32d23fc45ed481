package multipath

import "context"

// ReadCapacity runs READ CAPACITY(16) on the path's LUN, which takes the
// new capacity for its own I/O range when its block size is unchanged.
func (p *iscsiPath) ReadCapacity(ctx context.Context) (int64, uint32, error) {
	l, err := p.handle()
	if err != nil {
		return 0, 0, err
	}
	return l.ReadCapacity(ctx)
}
