package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// designRule is a skip that the suite makes on purpose, whatever machine
// it runs on: matching reasons are listed as by design, with why.
type designRule struct {
	re  *regexp.Regexp
	why string
}

// byDesign are the skips that no package install removes.
var byDesign = []designRule{
	{regexp.MustCompile(`no nbd module`), "this host kernel has no nbd module: /dev/nbdN is covered by make test-kernel"},
	{regexp.MustCompile(`race detector|sync\.Pool drops items`), "allocation proofs mean nothing under -race: make test runs them in the pass without it"},
	{regexp.MustCompile(`GOMP_LAB_NETNS=1`), "two shaped paths through network namespaces: make test runs it in its own pass"},
	{regexp.MustCompile(`GOMP_WRITE_SEEDS=1`), "a tool that rewrites the fuzz seed corpora, not a check"},
	{regexp.MustCompile(`little-endian`), "golden bytes of this machine's byte order only"},
}

// skip is one skipped test in the report.
type skip struct {
	result
	why string // for a skip by design
}

// summary is the outcome of all passes of one run.
type summary struct {
	passed, failed int
	failures       []result
	design         []skip
	missing        []skip
}

// summarize counts every result and sorts the skips into by design and
// missing. A test that skipped in one pass and ran in another is by design.
func summarize(all []result) summary {
	ran := map[string]string{} // key -> a pass that ran it
	for _, r := range all {
		if r.Test != "" && r.Action != "skip" {
			ran[r.key()] = r.Pass
		}
	}
	var s summary
	for _, r := range all {
		switch r.Action {
		case "pass":
			s.passed++
		case "fail":
			s.failed++
			s.failures = append(s.failures, r)
		case "skip":
			s.addSkip(r, ran)
		}
	}
	return s
}

func (s *summary) addSkip(r result, ran map[string]string) {
	if p, ok := ran[r.key()]; ok {
		s.design = append(s.design, skip{r, "ran in the " + p + " pass"})
		return
	}
	for _, d := range byDesign {
		if d.re.MatchString(r.Reason) {
			s.design = append(s.design, skip{r, d.why})
			return
		}
	}
	s.missing = append(s.missing, skip{r, ""})
}

func (s summary) skipped() int { return len(s.design) + len(s.missing) }

// print writes the report; strict says whether a missing peer fails the run.
func (s summary) print(w io.Writer, strict bool) {
	fmt.Fprintln(w, "== test summary")
	for _, f := range s.failures {
		name := f.Test
		if name == "" {
			name = "(package: " + f.Reason + ")"
		}
		fmt.Fprintf(w, "FAILED   %s %s [%s pass]\n", f.Package, name, f.Pass)
	}
	if len(s.design) > 0 {
		fmt.Fprintf(w, "skipped by design (%d):\n", len(s.design))
		printSkips(w, s.design, true)
	}
	if len(s.missing) > 0 {
		verdict := "a failure (set GOMP_ALLOW_SKIP=1 to allow, outside CI)"
		if !strict {
			verdict = "allowed by GOMP_ALLOW_SKIP=1"
		}
		fmt.Fprintf(w, "skipped for a missing peer or setup (%d), %s; scripts/deps.sh test installs the peers:\n",
			len(s.missing), verdict)
		printSkips(w, s.missing, false)
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped())
}

func printSkips(w io.Writer, skips []skip, design bool) {
	sort.SliceStable(skips, func(i, j int) bool { return skips[i].key() < skips[j].key() })
	for _, k := range skips {
		line := fmt.Sprintf("  %s %s [%s pass]: %s", strings.TrimPrefix(k.Package, module+"/"), k.Test, k.Pass, k.Reason)
		if design {
			line += " -- " + k.why
		}
		fmt.Fprintln(w, line)
	}
}

// ok reports whether the run passes: nothing failed, and under strict no
// test skipped for something missing.
func (s summary) ok(strict bool) bool {
	return s.failed == 0 && (!strict || len(s.missing) == 0)
}
