package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// module is stripped from package names in the report.
const module = "github.com/gomp-dev/gomp"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "stream":
		s := newStreamer(os.Stdout)
		if err := scan(os.Stdin, s.event); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(1)
		}
	case "report":
		os.Exit(report(os.Args[2:]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testsummary stream <go-test-json\n       testsummary report [-strict] [NAME=]FILE...")
	os.Exit(2)
}

// report summarizes the passes named on the command line and returns the
// exit code.
func report(args []string) int {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	strict := fs.Bool("strict", false, "a test skipped for a missing peer fails the run")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		usage()
	}
	var all []result
	for _, a := range fs.Args() {
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			file = a
			name = strings.TrimSuffix(filepath.Base(a), filepath.Ext(a))
		}
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			return 1
		}
		res, err := collect(name, f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %s: %v\n", file, err)
			return 1
		}
		all = append(all, res...)
	}
	s := summarize(all)
	s.print(os.Stdout, *strict)
	if !s.ok(*strict) {
		return 1
	}
	return 0
}
