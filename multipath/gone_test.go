package multipath

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
)

// A device whose LUN is gone fails every I/O at once with ErrLUNGone and
// keeps its paths down, though they still answer.
func TestSetGoneFailsIO(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(9)
	d, _, _ := resizeDevice(t, lun, lun)
	ctx := context.Background()
	buf := make([]byte, 4096)
	_, err := d.ReadAtContext(ctx, buf, 0)
	require.NoError(t, err)
	require.NoError(t, d.Gone())
	require.Empty(t, d.Status().Gone)

	cause := errors.New("rescan: WWID not reported by any portal")
	d.SetGone(cause)
	d.SetGone(errors.New("second")) // the first cause stays
	_, err = d.ReadAtContext(ctx, buf, 0)
	require.ErrorIs(t, err, ErrLUNGone)
	require.ErrorIs(t, err, cause)
	_, err = d.WriteAtContext(ctx, buf, 0, false)
	require.ErrorIs(t, err, ErrLUNGone)
	require.ErrorIs(t, d.Flush(ctx), ErrLUNGone)
	require.ErrorIs(t, d.Gone(), cause)
	require.Equal(t, d.Gone().Error(), d.Status().Gone, "status says why the device fails I/O")
	for _, p := range d.paths {
		require.Equal(t, "faulty", pathVerdict(d, p.portal))
		d.checkPath(p) // the checker finds it ready and leaves it down
		require.Equal(t, "faulty", pathVerdict(d, p.portal))
	}
}
