// Package fuzz holds gomp's cross-package fuzz harnesses: whole
// conversations rather than single parsers (those have Fuzz targets beside
// their code, in pdu, iscsi, nbd and the rest).
//
//   - FuzzSession: a whole initiator session (package iscsi) — login, then
//     READ, WRITE and READ — against a target whose every byte comes from
//     the fuzzer. The input is a script of turns, each "wait for N PDUs from
//     the initiator, then send these bytes", so that a recorded valid
//     conversation (internal/iscsitest) replays exactly and the fuzzer mutates
//     from there; a flag prepends the recorded login, so that mutations
//     reach the full-feature phase.
//   - FuzzNBDConn: an NBD server connection (package nbd, ServeConn) fed
//     fuzzed client bytes across the handshake and transmission phases,
//     against a memory backend.
//
// Each run is a testing/synctest bubble: every timeout (login, command,
// handshake) passes in virtual time, so a stalled conversation costs no
// wall-clock time, and a goroutine left blocked when the run ends makes the
// bubble fail, which is the leak check. Properties: no panic, the run ends
// within its virtual deadline, no goroutine outlives it, and the heap it
// allocates stays below a bound far under what an unchecked length field
// would ask for.
//
// Seed corpora, including recorded valid conversations, live under
// testdata/fuzz/; run with scripts/fuzz.sh or
// go test -run '^$' -fuzz '^FuzzSession$' -fuzztime 30s ./fuzz.
package fuzz
