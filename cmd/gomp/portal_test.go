package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPortalBindingUsageErrors: a --portal bound to an interface the host
// lacks, or to an address it does not own, is a usage error naming it,
// before any login is tried.
func TestPortalBindingUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"attach", "--target", "iqn.x", "--portal", "198.18.0.1@gomp-nonesuch", "--listen", "unix:/tmp/x"},
			`no network interface "gomp-nonesuch"`},
		{[]string{"attach", "--target", "iqn.x", "--portal", "198.18.0.1@198.19.255.254", "--listen", "unix:/tmp/x"},
			"198.19.255.254 is not an address of this host"},
		{[]string{"attach", "--target", "iqn.x", "--portal", "198.18.0.1@", "--listen", "unix:/tmp/x"},
			"empty interface or source address"},
		{[]string{"ls", "--target", "iqn.x", "--portal", "198.18.0.1@a/b"},
			"neither an IP address nor an interface name"},
		{[]string{"discover", "--iface", "gomp-nonesuch", "198.18.0.1"},
			`no network interface "gomp-nonesuch"`},
		{[]string{"discover", "--iface", "lo", "198.18.0.1@lo"},
			"either --iface or PORTAL@IFACE"},
	} {
		code, _, stderr := runCLI(t, tt.args...)
		require.Equal(t, exitUsage, code, "%v: %s", tt.args, stderr)
		require.Contains(t, stderr, tt.want, "%v", tt.args)
	}
}
