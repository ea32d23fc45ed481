package tgtdtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestTakeClaim: a claim is exclusive while its process lives, and taken
// over once it is gone.
func TestTakeClaim(t *testing.T) {
	claim := filepath.Join(t.TempDir(), "c")
	if !takeClaim(claim) {
		t.Fatal("a free claim is taken")
	}
	if takeClaim(claim) {
		t.Fatal("a claim of a live process (this one) is not taken again")
	}
	if err := os.WriteFile(claim, []byte(strconv.Itoa(1<<22+1)), 0o644); err != nil { // beyond pid_max: no such process
		t.Fatal(err)
	}
	if !takeClaim(claim) {
		t.Fatal("a claim of a dead process is taken over")
	}
	b, _ := os.ReadFile(claim)
	if string(b) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("claim holds %q, want this pid", b)
	}
}
