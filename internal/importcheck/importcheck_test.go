package importcheck

import "testing"

func TestAllows(t *testing.T) {
	r := Rules{Code: []string{"iscsi"}, Tests: []string{"pdu"}, Examples: true}
	for _, tc := range []struct {
		file, rel string
		want      bool
	}{
		{"a.go", "iscsi", true},
		{"a.go", "pdu", false},
		{"a_test.go", "pdu", true},
		{"a_test.go", "nbd", false},
		{"example_test.go", "nbd", true},
	} {
		if got := r.allows(tc.file, tc.rel); got != tc.want {
			t.Errorf("%s importing %s: allowed %v, want %v", tc.file, tc.rel, got, tc.want)
		}
	}
	if (Rules{Code: []string{"iscsi"}}).allows("example_test.go", "nbd") {
		t.Error("an Example may import any gomp package only when Examples is set")
	}
}

// TestCheckItself: this package imports nothing of the module.
func TestCheckItself(t *testing.T) { Check(t, Rules{}) }
