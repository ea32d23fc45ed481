package main

import (
	"fmt"
	"io"
	"strings"
)

// streamer prints a short transcript of one go test -json stream.
type streamer struct {
	w      io.Writer
	out    testOutput          // output of running tests, printed if they fail
	pkgOut map[string][]string // package-level output, printed if it fails
	ran    map[string]int      // tests ended per package
}

func newStreamer(w io.Writer) *streamer {
	return &streamer{w: w, out: testOutput{}, pkgOut: map[string][]string{}, ran: map[string]int{}}
}

func (s *streamer) event(ev event) {
	k := ev.Package + "." + ev.Test
	switch ev.Action {
	case "build-output":
		fmt.Fprint(s.w, ev.Output)
	case "output":
		if ev.Package == "" { // not JSON: go's own messages (downloads, vet)
			fmt.Fprint(s.w, ev.Output)
		} else if ev.Test != "" {
			s.out[k] = append(s.out[k], ev.Output)
		} else if !strings.HasPrefix(ev.Output, "=== ") {
			s.pkgOut[ev.Package] = append(s.pkgOut[ev.Package], ev.Output)
		}
	case "fail":
		if ev.Test != "" {
			s.ran[ev.Package]++
			fmt.Fprint(s.w, strings.Join(s.out[k], ""))
		} else {
			s.endPackage(ev)
		}
		delete(s.out, k)
	case "pass", "skip":
		if ev.Test == "" {
			s.endPackage(ev)
		} else {
			s.ran[ev.Package]++
		}
		delete(s.out, k)
	}
}

// endPackage prints the package's closing line as go test does, and its
// own output when it failed (a panic outside a test, a build failure).
func (s *streamer) endPackage(ev event) {
	lines := s.pkgOut[ev.Package]
	delete(s.pkgOut, ev.Package)
	switch {
	case ev.Action == "fail":
		fmt.Fprint(s.w, strings.Join(lines, ""))
	case ev.Action == "skip":
		fmt.Fprintf(s.w, "?   \t%s\t[no test files]\n", ev.Package)
	case s.ran[ev.Package] == 0:
		fmt.Fprintf(s.w, "ok  \t%s\t%.3fs [no tests to run]\n", ev.Package, ev.Elapsed)
	default:
		fmt.Fprintf(s.w, "ok  \t%s\t%.3fs\n", ev.Package, ev.Elapsed)
	}
}
