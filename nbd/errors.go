package nbd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// Errno is an error value of a transmission reply (proto.md "Error values").
// The protocol allows only the values below; anything else a Backend returns
// is sent as ErrnoIO.
type Errno uint32

// Error values.
const (
	ErrnoPerm         Errno = 1   // NBD_EPERM: write or trim on a read-only export
	ErrnoIO           Errno = 5   // NBD_EIO: the default for backend failures
	ErrnoNoMem        Errno = 12  // NBD_ENOMEM
	ErrnoInvalid      Errno = 22  // NBD_EINVAL: bad request (range, alignment, flags, command)
	ErrnoNoSpace      Errno = 28  // NBD_ENOSPC: write beyond the end of the export
	ErrnoOverflow     Errno = 75  // NBD_EOVERFLOW: request too large
	ErrnoNotSupported Errno = 95  // NBD_ENOTSUP
	ErrnoShutdown     Errno = 108 // NBD_ESHUTDOWN: the server is going away
)

var errnoNames = map[Errno]string{
	ErrnoPerm: "EPERM", ErrnoIO: "EIO", ErrnoNoMem: "ENOMEM", ErrnoInvalid: "EINVAL",
	ErrnoNoSpace: "ENOSPC", ErrnoOverflow: "EOVERFLOW", ErrnoNotSupported: "ENOTSUP",
	ErrnoShutdown: "ESHUTDOWN",
}

// errnoText is sent as the message of structured error chunks (as bytes, so
// sending one allocates nothing).
var errnoText = map[Errno][]byte{
	ErrnoPerm: []byte("operation not permitted"), ErrnoIO: []byte("input/output error"),
	ErrnoNoMem: []byte("cannot allocate memory"), ErrnoInvalid: []byte("invalid argument"),
	ErrnoNoSpace: []byte("no space left on device"), ErrnoOverflow: []byte("value too large"),
	ErrnoNotSupported: []byte("operation not supported"), ErrnoShutdown: []byte("server is shutting down"),
}

// String returns the errno's name ("EIO", "EINVAL", …), "OK" for zero,
// or "Errno(0xN)" for an unknown value.
func (e Errno) String() string {
	if e == 0 {
		return "OK"
	}
	return enumString(errnoNames, e, "Errno")
}

// Error is an error that carries the errno to send to the client. Backends
// return it (or wrap it) to choose the reply's error value; see ErrnoOf.
type Error struct {
	Errno Errno
	Err   error // optional cause
}

// Error names the errno and, if there is one, the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("nbd: %s: %v", e.Errno, e.Err)
	}
	return "nbd: " + e.Errno.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error without cause and with the same
// Errno, so that errors.Is(err, ErrNoSpace) holds for any ENOSPC error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Err == nil && t.Errno == e.Errno
}

// Errors a Backend may return (or wrap) to pick the reply's errno.
var (
	ErrPermission   = &Error{Errno: ErrnoPerm}
	ErrIO           = &Error{Errno: ErrnoIO}
	ErrInvalid      = &Error{Errno: ErrnoInvalid}
	ErrNoSpace      = &Error{Errno: ErrnoNoSpace}
	ErrOverflow     = &Error{Errno: ErrnoOverflow}
	ErrNotSupported = &Error{Errno: ErrnoNotSupported}
	ErrShutdown     = &Error{Errno: ErrnoShutdown}
)

// Server-side sentinel errors, returned wrapped by Serve, ServeConn and
// ServeTransmission; branch with errors.Is.
var (
	// ErrServerClosed is returned by Serve after Shutdown.
	ErrServerClosed = errors.New("nbd: server closed")
	// ErrProtocol: the client broke the protocol (bad magic, oversized
	// request or option, unknown client flags) and its connection was
	// dropped. Other connections are not affected.
	ErrProtocol = errors.New("nbd: protocol violation")
)

// ErrnoOf maps a Backend error to the errno sent to the client: an *Error in
// the chain gives its Errno; context.Canceled gives ErrnoShutdown (the
// connection or server is going away); syscall errnos map to their NBD
// namesakes (EDQUOT and EFBIG to ENOSPC, EACCES and EROFS to EPERM); anything
// else, including a deadline, is ErrnoIO. ErrnoOf(nil) is 0.
func ErrnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) && e.Errno != 0 {
		return e.Errno
	}
	if errors.Is(err, context.Canceled) {
		return ErrnoShutdown
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return errnoOfSyscall(se)
	}
	return ErrnoIO
}

func errnoOfSyscall(se syscall.Errno) Errno {
	switch se {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
		return ErrnoNoSpace
	case syscall.EPERM, syscall.EACCES, syscall.EROFS:
		return ErrnoPerm
	case syscall.EINVAL:
		return ErrnoInvalid
	case syscall.EOVERFLOW:
		return ErrnoOverflow
	case syscall.ENOTSUP:
		return ErrnoNotSupported
	case syscall.ENOMEM:
		return ErrnoNoMem
	case syscall.ESHUTDOWN:
		return ErrnoShutdown
	}
	return ErrnoIO
}

// ConnError is the error that ended one client connection, naming the
// client. Serve logs it; ServeConn and ServeTransmission return it.
type ConnError struct {
	Peer string // e.g. "unix:/run/gomp/disk.sock" or "tcp:127.0.0.1:50312"
	Err  error
}

// Error names the client and the cause.
func (e *ConnError) Error() string {
	return "nbd: client " + e.Peer + ": " + strings.TrimPrefix(e.Err.Error(), "nbd: ")
}

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

func connError(peer string, err error) error { return &ConnError{Peer: peer, Err: err} }

func connErrorf(peer, format string, args ...any) error {
	return &ConnError{Peer: peer, Err: fmt.Errorf(format, args...)}
}

// protocolError builds an ErrProtocol error naming the peer.
func protocolError(peer, format string, args ...any) error {
	return connError(peer, fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...)))
}

// shortIO turns a short read or write without error into one.
func shortIO(n, want int, err error, short error) error {
	if err == io.EOF && n == want {
		return nil
	}
	if err == nil && n < want {
		return short
	}
	return err
}
