// Command testsummary reads the JSON event stream of "go test -json" and
// tells a person what the test suite did. make test runs it in two modes:
//
//	go test -json ... | tee race.json | testsummary stream
//	testsummary report [-strict] race=race.json allocs=allocs.json ...
//
// stream prints a short transcript as the events arrive: one line per
// package (ok, FAIL, no test files) and the output of each failed test,
// so that a run without -v still shows why something failed.
//
// report reads the streams of every pass of one run and prints the counts
// of passed, failed and skipped tests (subtests included), then each
// skipped test with its reason, in two lists:
//
//   - by design: a skip whose reason the table byDesign knows (no nbd
//     module in this host kernel, covered by make test-kernel; golden bytes
//     of another byte order; a corpus-writing tool), or a test that skipped
//     in one pass and ran in another (the allocation proofs skip under
//     -race and run in the pass without it);
//   - missing: every other skip, which is a peer or a setup the machine
//     lacks (tgtd, nft, nbdinfo, root, ...).
//
// Its last line is "tests: N passed, N failed, N skipped", the form CI
// counts. It exits 1 when a test or a package failed, and with -strict also
// when a test skipped for something missing: make test passes -strict
// unless GOMP_ALLOW_SKIP=1, and always under CI=true.
//
// Not implemented: benchmarks' results and fuzzing (make fuzz-smoke reports
// on its own).
package main
