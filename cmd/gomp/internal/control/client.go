package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// Client talks to one running gomp attach. Its methods may be called
// concurrently.
type Client struct {
	name string
	http *http.Client
}

// NewClient returns a client for the control socket DIR/NAME.sock; a
// name that would leave dir fails every request.
func NewClient(dir, name string) *Client {
	path, perr := SocketPath(dir, name)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if perr != nil {
			return nil, perr
		}
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{name: name, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// Name is the device the client talks to.
func (c *Client) Name() string { return c.name }

// Status returns the device's status (GET /status).
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.do(ctx, http.MethodGet, "/status", &st)
}

// Stats returns the device's counters (GET /stats).
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	return st, c.do(ctx, http.MethodGet, "/stats", &st)
}

// FailPath fails the path to portal by hand.
func (c *Client) FailPath(ctx context.Context, portal string) error {
	return c.do(ctx, http.MethodPost, "/path/fail?portal="+url.QueryEscape(portal), nil)
}

// ReinstatePath reinstates the path to portal.
func (c *Client) ReinstatePath(ctx context.Context, portal string) error {
	return c.do(ctx, http.MethodPost, "/path/reinstate?portal="+url.QueryEscape(portal), nil)
}

// DisableQueueing fails the queued I/O and stops queueing until
// RestoreQueueing.
func (c *Client) DisableQueueing(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/queueing/disable", nil)
}

// RestoreQueueing makes the device queue again as configured.
func (c *Client) RestoreQueueing(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/queueing/restore", nil)
}

// SwitchGroup sends I/O to path group index (0-based).
func (c *Client) SwitchGroup(ctx context.Context, index int) error {
	return c.do(ctx, http.MethodPost, "/group/switch?index="+strconv.Itoa(index), nil)
}

// Detach stops the gomp attach; it returns once the request is taken.
func (c *Client) Detach(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/detach", nil)
}

// Rescan lists the target's LUNs again. A report with Error set is a
// partial rescan, not an error.
func (c *Client) Rescan(ctx context.Context) (RescanReport, error) {
	var rep RescanReport
	return rep, c.do(ctx, http.MethodPost, "/rescan", &rep)
}

// Resize grows the device to its LUN's capacity.
func (c *Client) Resize(ctx context.Context) (ResizeResult, error) {
	var res ResizeResult
	return res, c.do(ctx, http.MethodPost, "/resize", &res)
}

// PersistentReserveIn returns the parameter data of PERSISTENT RESERVE
// IN with service action a.
func (c *Client) PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error) {
	var ans struct{ Data []byte }
	err := c.do(ctx, http.MethodPost, "/persist/in?sa="+strconv.Itoa(int(a)), &ans)
	return ans.Data, err
}

// PersistentReserveOut sends PERSISTENT RESERVE OUT with service action
// a, type t and parameters prm through the device.
func (c *Client) PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, prm scsi.PROutParameters) error {
	q := url.Values{"sa": {strconv.Itoa(int(a))}, "type": {strconv.Itoa(int(t))},
		"rk": {strconv.FormatUint(prm.Key, 16)}, "sark": {strconv.FormatUint(prm.ServiceActionKey, 16)},
		"aptpl": {strconv.FormatBool(prm.APTPL)}}
	return c.do(ctx, http.MethodPost, "/persist/out?"+q.Encode(), nil)
}

// do sends one request to the control API and decodes the JSON answer
// into out, unless out is nil. A status other than 200 is an error that
// carries the server's message.
func (c *Client) do(ctx context.Context, method, path string, out any) error {
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
	return decodeJSON(resp.Body, out)
}

// maxResponse bounds a control API answer (a status of hundreds of paths
// is well under 1 MiB).
const maxResponse = 16 << 20

// decodeJSON decodes one JSON value of at most maxResponse bytes from r
// into out.
func decodeJSON(r io.Reader, out any) error {
	lr := &io.LimitedReader{R: r, N: maxResponse + 1}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("control answer larger than %d bytes", maxResponse)
		}
		return fmt.Errorf("control answer: %w", err)
	}
	return nil
}
