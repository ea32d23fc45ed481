package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/multipath/conf"
)

// defaultConfigPath is where multipath-tools and gomp look for
// multipath.conf.
const defaultConfigPath = "/etc/multipath.conf"

// errConfigRejected makes "gomp config check" exit 1 after it printed
// its findings.
var errConfigRejected = errors.New("configuration rejected")

// newConfigCmd builds "gomp config" with its check and show subcommands.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a multipath.conf, or show the settings gomp derives from it",
		Args:  noArgs,
	}
	cmd.AddCommand(newConfigCheckCmd(), newConfigShowCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var path string
	var strict bool
	cmd := &cobra.Command{
		Use:   "check [--config FILE] [--strict]",
		Short: "Read multipath.conf as multipath-tools does and report every problem as FILE:LINE",
		Long: `check reads multipath.conf the way multipath-tools reads it and prints one
line per finding, FILE:LINE first. Warnings are slips that multipath-tools
tolerates (a section left open, a stray "}", a quote left open, a missing "{",
unknown or obsolete keywords) and settings gomp ignores; errors are values a
keyword cannot take and regular expressions that do not compile. It exits 0
with warnings only, 1 with errors, and 1 for any warning under --strict.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigCheck(cmd.OutOrStdout(), path, strict)
		},
	}
	cmd.Flags().StringVar(&path, "config", defaultConfigPath, "multipath.conf to check")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	return cmd
}

// finding is one warning or error, for printing in line order.
type finding struct {
	line int
	text string
}

func runConfigCheck(w io.Writer, path string, strict bool) error {
	f, warns, err := conf.Load(path)
	var errs []*conf.SyntaxError
	if err != nil {
		if errs = syntaxErrors(err); len(errs) == 0 {
			return err // unreadable file
		}
	}
	var out []finding
	for _, e := range errs {
		out = append(out, finding{e.Line, fmt.Sprintf("%s:%d: error: %s", e.File, e.Line, e.Msg)})
	}
	for _, x := range warns {
		out = append(out, finding{x.Line, fmt.Sprintf("%s:%d: warning: %s", x.File, x.Line, x.Msg)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	for _, x := range out {
		fmt.Fprintln(w, x.text)
	}
	fmt.Fprintf(w, "%s: %d error(s), %d warning(s)\n", path, len(errs), len(warns))
	switch {
	case f == nil:
		return fmt.Errorf("%s: %w: %d error(s)", path, errConfigRejected, len(errs))
	case strict && len(warns) > 0:
		return fmt.Errorf("%s: %w: %d warning(s) under --strict", path, errConfigRejected, len(warns))
	}
	return nil
}

// syntaxErrors lists the *SyntaxError values err joins.
func syntaxErrors(err error) []*conf.SyntaxError {
	var out []*conf.SyntaxError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, syntaxErrors(e)...)
		}
		return out
	}
	var se *conf.SyntaxError
	if errors.As(err, &se) {
		out = append(out, se)
	}
	return out
}

func newConfigShowCmd() *cobra.Command {
	var path string
	var o conf.ShowOptions
	cmd := &cobra.Command{
		Use:   "show [--config FILE] [--wwid W | --vendor V --product P] [--origin]",
		Short: "Print the effective settings in multipath.conf syntax, like multipath -t",
		Long: `show prints, in multipath.conf syntax, the settings gomp uses. With --wwid, or
--vendor and --product, it prints one LUN's effective settings: built-in
defaults, then the file's defaults, every matching devices entry, overrides
and the multipaths entry for the WWID, merged as multipath-tools merges them.
Without them it prints the defaults with every built-in filled in, then the
file's other sections. --origin says where each value came from. A missing
default /etc/multipath.conf counts as an empty file.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (o.Vendor == "") != (o.Product == "") {
				return usagef("--vendor and --product go together")
			}
			f, err := loadForShow(path, cmd.Flags().Changed("config"))
			if err != nil {
				return err
			}
			return f.Show(cmd.OutOrStdout(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "config", defaultConfigPath, "multipath.conf to read")
	fl.StringVar(&o.WWID, "wwid", "", "show the effective settings of the LUN with this WWID")
	fl.StringVar(&o.Vendor, "vendor", "", "INQUIRY vendor of the LUN")
	fl.StringVar(&o.Product, "product", "", "INQUIRY product of the LUN")
	fl.BoolVar(&o.Origins, "origin", false, "annotate each value with where it came from")
	return cmd
}

// loadForShow loads the file; show refuses a file with errors, as attach
// does. The default path may be absent.
func loadForShow(path string, explicit bool) (*conf.File, error) {
	f, _, err := conf.Load(path)
	if err != nil && !explicit && errors.Is(err, os.ErrNotExist) {
		return &conf.File{Name: path}, nil
	}
	return f, err
}
