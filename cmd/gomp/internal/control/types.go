package control

import (
	"time"

	"github.com/gomp-dev/gomp/multipath"
)

// DefaultDir holds one control socket per attached device.
const DefaultDir = "/run/gomp"

// Status is what GET /status answers: the device and its exports. Its
// JSON is the stable `gomp status --json` format (README).
type Status struct {
	Device  multipath.Status `json:"device"`
	Exports Exports          `json:"exports"`
	PID     int              `json:"pid"`
	Started time.Time        `json:"started"`
}

// Exports lists where an attached device is exported.
type Exports struct {
	NBD    string `json:"nbd,omitempty"`    // /dev/nbdN
	URI    string `json:"uri,omitempty"`    // nbd+unix:///?socket=… or nbd://host:port (nbds… under --tls require)
	Mount  string `json:"mount,omitempty"`  // mount point
	Listen string `json:"listen,omitempty"` // the --listen value
	Node   string `json:"node,omitempty"`   // the node record attached (--node, --all)
}

// Stats is what GET /stats answers. Its JSON is the stable
// `gomp stats --json` format (README).
type Stats struct {
	Device  multipath.DeviceStats `json:"device"`
	PID     int                   `json:"pid"`
	Started time.Time             `json:"started"`
}

// RescanReport is what POST /rescan answers.
type RescanReport struct {
	Added []string `json:"added,omitempty"` // "NAME WHERE"
	Gone  []string `json:"gone,omitempty"`  // device names
	Error string   `json:"error,omitempty"` // what could not be done
}

// ResizeResult is what POST /resize answers: the device's size before
// and after, in bytes.
type ResizeResult struct {
	Old  int64 `json:"old"`
	Size int64 `json:"size"`
}
