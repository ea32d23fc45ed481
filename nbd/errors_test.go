package nbd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrnoOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Errno
	}{
		{nil, 0},
		{ErrNoSpace, ErrnoNoSpace},
		{fmt.Errorf("backend: %w", ErrPermission), ErrnoPerm},
		{&Error{Errno: ErrnoNotSupported, Err: io.EOF}, ErrnoNotSupported},
		{&Error{}, ErrnoIO}, // no errno: the default
		{context.Canceled, ErrnoShutdown},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), ErrnoIO},
		{&os.PathError{Op: "write", Path: "/f", Err: syscall.ENOSPC}, ErrnoNoSpace},
		{syscall.EDQUOT, ErrnoNoSpace},
		{syscall.EFBIG, ErrnoNoSpace},
		{syscall.EROFS, ErrnoPerm},
		{syscall.EACCES, ErrnoPerm},
		{syscall.EINVAL, ErrnoInvalid},
		{syscall.EOPNOTSUPP, ErrnoNotSupported},
		{syscall.EOVERFLOW, ErrnoOverflow},
		{syscall.ENOMEM, ErrnoNoMem},
		{syscall.ESHUTDOWN, ErrnoShutdown},
		{syscall.ECONNRESET, ErrnoIO},
		{io.ErrUnexpectedEOF, ErrnoIO},
		{errors.New("anything"), ErrnoIO},
	} {
		require.Equal(t, tc.want, ErrnoOf(tc.err), "%v", tc.err)
	}
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("disk: %w", &Error{Errno: ErrnoNoSpace, Err: syscall.ENOSPC})
	require.ErrorIs(t, err, ErrNoSpace)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NotErrorIs(t, err, ErrInvalid)
	require.Equal(t, "nbd: ENOSPC: no space left on device", (&Error{Errno: ErrnoNoSpace, Err: syscall.ENOSPC}).Error())
	require.Equal(t, "nbd: EINVAL", ErrInvalid.Error())
}
