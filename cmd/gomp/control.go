package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/multipath"
)

// defaultControlDir holds one control socket per attached device.
const defaultControlDir = "/run/gomp"

// controlStatus is what GET /status answers: the device and its exports.
// Its JSON is the stable `gomp status --json` format (README).
type controlStatus struct {
	Device  multipath.Status `json:"device"`
	Exports exportInfo       `json:"exports"`
	PID     int              `json:"pid"`
	Started time.Time        `json:"started"`
}

// exportInfo lists where an attached device is exported.
type exportInfo struct {
	NBD    string `json:"nbd,omitempty"`    // /dev/nbdN
	URI    string `json:"uri,omitempty"`    // nbd+unix:///?socket=… or nbd://host:port (nbds… under --tls require)
	Mount  string `json:"mount,omitempty"`  // mount point
	Listen string `json:"listen,omitempty"` // the --listen value
	Node   string `json:"node,omitempty"`   // the node record attached (--node, --all)
}

// controlServer serves one attached device on a Unix socket (mode 0600,
// root and the owner only).
type controlServer struct {
	dev     *multipath.Device
	exports exportInfo
	started time.Time
	detach  chan struct{}          // closed by POST /detach
	set     atomic.Pointer[lunSet] // POST /rescan: the devices of its gomp attach; nil for --lun N
	srv     *http.Server
	path    string
}

// startControl serves dev's control API on DIR/NAME.sock and refuses to
// start when another gomp already answers on that socket. The directory is
// made 0700 (root's when running as root), the name must stay inside it
// (safename.Join), and the socket is 0600 and answers root and this user
// only (listenUnix).
func startControl(dir, name string, dev *multipath.Device, ex exportInfo, log *slog.Logger) (*controlServer, error) {
	if err := prepareControlDir(dir); err != nil {
		return nil, err
	}
	path, err := controlSocketPath(dir, name)
	if err != nil {
		return nil, fmt.Errorf("control socket: device name: %w", err)
	}
	ln, err := listenUnix(path, log)
	if errors.Is(err, errInUse) {
		return nil, fmt.Errorf("control socket %s: another gomp serves %s already", path, name)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cs := &controlServer{dev: dev, exports: ex, started: time.Now(), detach: make(chan struct{}), path: path}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", cs.status)
	mux.HandleFunc("GET /stats", cs.stats)
	mux.HandleFunc("POST /path/{op}", cs.pathOp)
	mux.HandleFunc("POST /queueing/{op}", cs.queueing)
	mux.HandleFunc("POST /group/switch", cs.groupSwitch)
	mux.HandleFunc("POST /detach", cs.detachOp)
	mux.HandleFunc("POST /rescan", cs.rescanOp)
	mux.HandleFunc("POST /resize", cs.resizeOp)
	mux.HandleFunc("POST /persist/in", cs.persistIn)   // persist.go
	mux.HandleFunc("POST /persist/out", cs.persistOut) // persist.go
	cs.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = cs.srv.Serve(ln) }()
	return cs, nil
}

// close shuts the control server down (waiting up to 2 s); closing its
// listener removes the socket.
func (cs *controlServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = cs.srv.Shutdown(ctx)
}

// status answers GET /status with a controlStatus.
func (cs *controlServer) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, controlStatus{Device: cs.dev.Status(), Exports: cs.exports, PID: os.Getpid(), Started: cs.started})
}

// pathOp answers POST /path/fail and /path/reinstate?portal=PORTAL.
func (cs *controlServer) pathOp(w http.ResponseWriter, r *http.Request) {
	portal := r.URL.Query().Get("portal")
	var err error
	switch r.PathValue("op") {
	case "fail":
		err = cs.dev.FailPath(portal)
	case "reinstate":
		err = cs.dev.ReinstatePath(portal)
	default:
		http.Error(w, "unknown path operation", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]string{"result": "ok"})
}

// queueing answers POST /queueing/disable and /queueing/restore.
func (cs *controlServer) queueing(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("op") {
	case "disable":
		cs.dev.DisableQueueing()
	case "restore":
		cs.dev.RestoreQueueing()
	default:
		http.Error(w, "unknown queueing operation", http.StatusNotFound)
		return
	}
	writeJSON(w, map[string]string{"result": "ok"})
}

// detachOp answers POST /detach: it closes cs.detach, once.
func (cs *controlServer) detachOp(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-cs.detach:
	default:
		close(cs.detach)
	}
	writeJSON(w, map[string]string{"result": "detaching"})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// controlSocketPath returns DIR/NAME.sock, checked to stay in dir. A
// name too long for a socket path in dir (a WWID is up to 127 bytes, a
// socket path at most 107) is cut and given the first 8 hex digits of its
// SHA-256, so that the server and every client derive the same path.
func controlSocketPath(dir, name string) (string, error) {
	p, err := safename.Join(dir, name, ".sock")
	if err != nil || len(p) <= maxSunPath {
		return p, err
	}
	sum := sha256.Sum256([]byte(name))
	room := maxSunPath - (len(p) - len(name)) - 9 // "-" and 8 hex digits
	if room < 1 {
		return "", fmt.Errorf("control directory %s: too long for a socket path", dir)
	}
	return safename.Join(dir, name[:room]+"-"+hex.EncodeToString(sum[:4]), ".sock")
}

// controlClient talks to one running gomp attach.
type controlClient struct {
	name string
	http *http.Client
}

// newControlClient returns a client for the control socket DIR/NAME.sock;
// a name that would leave dir fails every request.
func newControlClient(dir, name string) *controlClient {
	path, perr := controlSocketPath(dir, name)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if perr != nil {
			return nil, perr
		}
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &controlClient{name: name, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// do sends one request to the control API and decodes the JSON answer
// into out, unless out is nil. A status other than 200 is an error that
// carries the server's message.
func (c *controlClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://gomp"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: no running gomp attach answers (%w)", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", c.name, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		return nil
	}
	return decodeControlJSON(resp.Body, out)
}

// maxControlResponse bounds a control API answer (a status of hundreds of
// paths is well under 1 MiB).
const maxControlResponse = 16 << 20

// decodeControlJSON decodes one JSON value of at most maxControlResponse
// bytes from r into out.
func decodeControlJSON(r io.Reader, out any) error {
	lr := &io.LimitedReader{R: r, N: maxControlResponse + 1}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("control answer larger than %d bytes", maxControlResponse)
		}
		return fmt.Errorf("control answer: %w", err)
	}
	return nil
}

// attachedNames lists the devices with a control socket in dir.
func attachedNames(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range m {
		if n := strings.TrimSuffix(filepath.Base(p), ".sock"); safename.Check(n) == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// resolveName maps NAME or /dev/nbdN to a device name.
func resolveName(ctx context.Context, dir, arg string) (string, error) {
	isDev := strings.HasPrefix(arg, "/dev/")
	if !isDev {
		if p, err := controlSocketPath(dir, arg); err == nil {
			if _, err := os.Stat(p); err == nil {
				return arg, nil
			}
		}
	}
	names, err := attachedNames(dir)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		var st controlStatus
		if newControlClient(dir, n).do(ctx, http.MethodGet, "/status", &st) != nil {
			continue
		}
		if isDev && st.Exports.NBD == arg || !isDev && st.Exports.Node == arg {
			return n, nil
		}
	}
	if !isDev { // not attached: the caller's request says so
		return arg, nil
	}
	return "", errors.New(arg + ": no running gomp attach exports it")
}
