package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// envAsGomp makes the test binary run as the gomp command (see TestMain),
// so that tests can start gomp in another network namespace with
// "ip netns exec NS TESTBINARY ARGS..." without building it first.
const envAsGomp = "GOMP_TEST_RUN_AS_GOMP"

func TestMain(m *testing.M) {
	if os.Getenv(envAsGomp) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:])
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
