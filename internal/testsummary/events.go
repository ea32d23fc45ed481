package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action      string  `json:"Action"`
	Package     string  `json:"Package"`
	Test        string  `json:"Test"`
	Output      string  `json:"Output"`
	Elapsed     float64 `json:"Elapsed"`
	ImportPath  string  `json:"ImportPath"`  // build-output, build-fail
	FailedBuild string  `json:"FailedBuild"` // on a package's fail after a build failure
}

// result is how one test ended in one pass.
type result struct {
	Pass, Package, Test, Action string
	Reason                      string // skip reason, from the test's own output
}

func (r result) key() string { return r.Package + "." + r.Test }

// testOutput collects each running test's output until it ends.
type testOutput map[string][]string

// skipLine is a t.Skip message as go test prints it: "    file_test.go:12: reason".
var skipLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

// reason returns the last t.Log/t.Skip message among a test's output lines.
func reason(lines []string) string {
	r := ""
	for _, l := range lines {
		if m := skipLine.FindStringSubmatch(strings.TrimRight(l, "\n")); m != nil {
			r = strings.TrimSpace(m[1])
		}
	}
	if r == "" {
		return "no reason given"
	}
	return r
}

// scan reads a go test -json stream and calls emit for every event, in
// order; lines that are not JSON (a crashed test binary's stray output)
// are passed on as package output.
func scan(r io.Reader, emit func(event)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			emit(event{Action: "output", Output: string(line) + "\n"})
			continue
		}
		emit(ev)
	}
	return sc.Err()
}

// collect reads one pass and returns the results of its tests, and one
// result with an empty Test for each package that failed as a whole (a
// build failure, a panic, a timeout).
func collect(pass string, r io.Reader) ([]result, error) {
	out := testOutput{}
	var res []result
	failedTests := map[string]bool{}
	err := scan(r, func(ev event) {
		k := ev.Package + "." + ev.Test
		switch ev.Action {
		case "output":
			if ev.Test != "" {
				out[k] = append(out[k], ev.Output)
			}
		case "pass", "fail", "skip":
			if ev.Test == "" {
				if ev.Action == "fail" && !failedTests[ev.Package] {
					res = append(res, result{Pass: pass, Package: ev.Package, Action: "fail",
						Reason: packageFailure(ev)})
				}
				return
			}
			rs := result{Pass: pass, Package: ev.Package, Test: ev.Test, Action: ev.Action}
			if ev.Action == "skip" {
				rs.Reason = reason(out[k])
			}
			if ev.Action == "fail" {
				failedTests[ev.Package] = true
			}
			delete(out, k)
			res = append(res, rs)
		}
	})
	return res, err
}

func packageFailure(ev event) string {
	if ev.FailedBuild != "" {
		return "build failed: " + ev.FailedBuild
	}
	return fmt.Sprintf("the test binary failed after %.1fs (panic, timeout or TestMain)", ev.Elapsed)
}
