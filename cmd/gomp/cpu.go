package main

import "runtime"

// numCPU returns runtime.NumCPU.
func numCPU() int { return runtime.NumCPU() }
