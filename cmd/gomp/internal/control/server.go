package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/unixsock"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/multipath"
)

// Rescanner lists a target's LUNs again for POST /rescan: the devices of
// one gomp attach of a target.
type Rescanner interface {
	Rescan(ctx context.Context) (RescanReport, error)
}

// Server serves one attached device's control API.
type Server struct {
	dev     *multipath.Device
	exports Exports
	started time.Time
	detach  chan struct{}
	rescan  atomic.Pointer[Rescanner] // nil for a device attached with --lun N alone
	srv     *http.Server
}

// Serve serves dev's control API on DIR/NAME.sock and refuses to start
// when another gomp already answers on that socket. The directory is
// made 0700 (root's when running as root), the name must stay inside it
// (SocketPath), and the socket is 0600 and answers root and this user
// only (unixsock.Listen).
func Serve(dir, name string, dev *multipath.Device, ex Exports, log *slog.Logger) (*Server, error) {
	if err := unixsock.PrivateDir(dir); err != nil {
		return nil, err
	}
	path, err := SocketPath(dir, name)
	if err != nil {
		return nil, fmt.Errorf("control socket: device name: %w", err)
	}
	ln, err := unixsock.Listen(path, log)
	if errors.Is(err, unixsock.ErrInUse) {
		return nil, fmt.Errorf("control socket %s: another gomp serves %s already", path, name)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &Server{dev: dev, exports: ex, started: time.Now(), detach: make(chan struct{})}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("POST /path/{op}", s.pathOp)
	mux.HandleFunc("POST /queueing/{op}", s.queueing)
	mux.HandleFunc("POST /group/switch", s.groupSwitch)
	mux.HandleFunc("POST /detach", s.detachOp)
	mux.HandleFunc("POST /rescan", s.rescanOp)
	mux.HandleFunc("POST /resize", s.resizeOp)
	mux.HandleFunc("POST /persist/in", s.persistIn)
	mux.HandleFunc("POST /persist/out", s.persistOut)
	return mux
}

// SetRescanner makes POST /rescan ask r; without one it is refused.
func (s *Server) SetRescanner(r Rescanner) { s.rescan.Store(&r) }

// Detached is closed by POST /detach.
func (s *Server) Detached() <-chan struct{} { return s.detach }

// Close shuts the server down (waiting up to 2 s); closing its listener
// removes the socket.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, Status{Device: s.dev.Status(), Exports: s.exports, PID: os.Getpid(), Started: s.started})
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, Stats{Device: s.dev.Stats(), PID: os.Getpid(), Started: s.started})
}

// pathOp answers POST /path/fail and /path/reinstate?portal=PORTAL.
func (s *Server) pathOp(w http.ResponseWriter, r *http.Request) {
	portal := r.URL.Query().Get("portal")
	var err error
	switch r.PathValue("op") {
	case "fail":
		err = s.dev.FailPath(portal)
	case "reinstate":
		err = s.dev.ReinstatePath(portal)
	default:
		http.Error(w, "unknown path operation", http.StatusNotFound)
		return
	}
	reply(w, err, http.StatusBadRequest)
}

// queueing answers POST /queueing/disable and /queueing/restore.
func (s *Server) queueing(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("op") {
	case "disable":
		s.dev.DisableQueueing()
	case "restore":
		s.dev.RestoreQueueing()
	default:
		http.Error(w, "unknown queueing operation", http.StatusNotFound)
		return
	}
	reply(w, nil, 0)
}

// groupSwitch answers POST /group/switch?index=I: I/O goes to path group
// I (0-based, as active_group in GET /status).
func (s *Server) groupSwitch(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.URL.Query().Get("index"))
	if err != nil {
		http.Error(w, "index: want a path group number from 0", http.StatusBadRequest)
		return
	}
	reply(w, s.dev.SwitchGroup(i), http.StatusBadRequest)
}

// detachOp answers POST /detach: it closes s.detach, once.
func (s *Server) detachOp(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-s.detach:
	default:
		close(s.detach)
	}
	writeJSON(w, map[string]string{"result": "detaching"})
}

// rescanOp answers POST /rescan: the report of a rescan of the target of
// the device (every device the same gomp attach brought up).
func (s *Server) rescanOp(w http.ResponseWriter, r *http.Request) {
	rs := s.rescan.Load()
	if rs == nil {
		http.Error(w, "rescan: this device was attached with --lun N alone", http.StatusBadRequest)
		return
	}
	rep, err := (*rs).Rescan(r.Context())
	if err != nil && rep.Added == nil && rep.Gone == nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, rep)
}

// resizeOp answers POST /resize: multipath.Device.Resize, whose
// SetOnResize hook tells the kernel device.
func (s *Server) resizeOp(w http.ResponseWriter, r *http.Request) {
	old, size, err := s.dev.Resize(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	writeJSON(w, ResizeResult{Old: old, Size: size})
}

// persistIn answers POST /persist/in?sa=N with the parameter data.
func (s *Server) persistIn(w http.ResponseWriter, r *http.Request) {
	sa, err := strconv.ParseUint(r.URL.Query().Get("sa"), 10, 5)
	if err != nil {
		http.Error(w, "bad service action", http.StatusBadRequest)
		return
	}
	b, err := s.dev.PersistentReserveIn(r.Context(), scsi.PRInAction(sa))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string][]byte{"data": b})
}

// persistOut answers POST /persist/out?sa=N&type=T&rk=HEX&sark=HEX&aptpl=BOOL.
func (s *Server) persistOut(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sa, err1 := strconv.ParseUint(q.Get("sa"), 10, 5)
	t, err2 := strconv.ParseUint(q.Get("type"), 10, 4)
	rk, err3 := strconv.ParseUint(q.Get("rk"), 16, 64)
	sark, err4 := strconv.ParseUint(q.Get("sark"), 16, 64)
	aptpl, err5 := strconv.ParseBool(q.Get("aptpl"))
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		http.Error(w, "bad persist request: "+err.Error(), http.StatusBadRequest)
		return
	}
	err := s.dev.PersistentReserveOut(r.Context(), scsi.PROutAction(sa), scsi.PRType(t),
		scsi.PROutParameters{Key: rk, ServiceActionKey: sark, APTPL: aptpl})
	reply(w, err, http.StatusBadRequest)
}

// reply answers {"result":"ok"}, or err's message with code.
func reply(w http.ResponseWriter, err error, code int) {
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	writeJSON(w, map[string]string{"result": "ok"})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
