package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/pdu"
)

// Exit codes of the CLI contract: 0 success, 1 a runtime failure, 2 a
// usage error (bad flags or arguments).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// main runs the command line with a context that SIGINT and SIGTERM
// cancel, and exits with run's exit code.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(root.ErrOrStderr(), "gomp:", err.Error()+cliHint(err))
	var ue *usageError
	if asUsage(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// asUsage reports whether err is or wraps a *usageError, and sets *target.
func asUsage(err error, target **usageError) bool { return errors.As(err, target) }

// usageError marks a bad command line (exit 2).
type usageError struct{ err error }

// Error returns the message of the wrapped error.
func (e *usageError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e *usageError) Unwrap() error { return e.err }

// usagef formats a *usageError, which makes run exit with exitUsage.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// cliHint names the flags that fix an error, when the fix is obvious.
func cliHint(err error) string {
	var le *iscsi.LoginError
	if !errors.As(err, &le) {
		return ""
	}
	switch {
	case le.Status == pdu.LoginAuthenticationFailure && !le.UsedCHAP:
		return "; pass --chap-user and --chap-secret-file"
	case le.Status == pdu.LoginAuthenticationFailure:
		return "; check --chap-user and --chap-secret-file"
	case le.Status == pdu.LoginNotFound:
		return "; gomp discover PORTAL lists the targets (arrays hide a target from initiator names it is not mapped to: check --initiator-name)"
	case le.Status == pdu.LoginAuthorizationFailure:
		return "; the target does not map this initiator name: check --initiator-name"
	}
	return ""
}
