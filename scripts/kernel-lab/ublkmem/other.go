//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main reports that ublk exists only on Linux.
func main() {
	fmt.Fprintln(os.Stderr, "ublkmem: ublk is a Linux driver; this platform is unsupported")
	os.Exit(1)
}
