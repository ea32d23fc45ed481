package metrics

import (
	"bytes"
	"fmt"
	"os/exec"
)

// PromtoolCheck runs "promtool check metrics" (Prometheus' linter, Debian
// package prometheus) on a text exposition, for tests: an error carries
// what promtool found wrong.
func PromtoolCheck(promtool string, exposition []byte) error {
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		return fmt.Errorf("promtool check metrics: %v: %s", err, out)
	}
	return nil
}
