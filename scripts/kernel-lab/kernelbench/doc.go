// Command kernelbench serves an in-memory export on a kernel /dev/nbdN until
// SIGTERM or SIGINT: the NBD ceiling of the kernel lab's bench (make
// bench-kernel), the kernel's nbd driver and gomp's NBD server with nothing
// behind them. It prints "ready: mem /dev/nbdN" once the device runs.
package main
