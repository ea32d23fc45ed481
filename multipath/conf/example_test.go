package conf_test

import (
	"fmt"
	"log"

	"github.com/gomp-dev/gomp/multipath/conf"
)

// Parse reads an existing multipath.conf; Lookup layers its
// sections for one LUN.
func ExampleParse() {
	src := `
defaults {
	user_friendly_names yes
	path_selector       "queue-length 0"
	no_path_retry       5
	frobnicate          on
}
multipaths {
	multipath {
		wwid  360000000000000000e00000000010001
		alias data
	}
}`
	f, warnings, err := conf.Parse("/etc/multipath.conf", []byte(src))
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	s := f.Lookup("360000000000000000e00000000010001", "IET", "VIRTUAL-DISK")
	fmt.Println(s.Alias, s.PathSelector, s.NoPathRetry, s.UserFriendlyNames)
	// Output:
	// warning: /etc/multipath.conf:6: unknown keyword "frobnicate" in defaults ignored
	// data queue-length 0 5 yes
}
