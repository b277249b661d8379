package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection, owned by one goroutine.
//
// The load generator writes its requests itself and parses answers with
// http.ReadResponse rather than going through an http.Transport: a
// Transport hands every request between two goroutines of its own, and on
// a 2-core machine that client CPU (measured: ~130 µs a message more than
// this) is taken from the server being measured.
type conn struct {
	ctx context.Context
	t   target

	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	used bool        // nc has carried a request already
	stop func() bool // ends the context.AfterFunc that unblocks nc
}

// target is where the requests go: a plain-HTTP address, the path up to
// the queue ("/v2/queues/q"), and every header line but Content-Length.
type target struct {
	addr, prefix, header string
}

func newTarget(o Options) (target, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return target{}, fmt.Errorf("load: URL %q: %w", o.URL, err)
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return target{}, fmt.Errorf("load: URL %q: want http://host[:port][/path]", o.URL)
	}
	if strings.ContainsAny(o.Project+o.Token, "\r\n") {
		return target{}, errors.New("load: the project and the token must be one line each")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	h := "Host: " + u.Host + "\r\nClient-ID: " + uuid() + "\r\nX-Project-ID: " + o.Project +
		"\r\nContent-Type: application/json\r\n"
	if o.Token != "" {
		h += "X-Auth-Token: " + o.Token + "\r\n"
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	return target{addr: addr, prefix: prefix + "/v2/queues/" + url.PathEscape(o.Queue), header: h}, nil
}

// conn returns a connection for requests made under ctx: ending ctx
// unblocks a request waiting on it.
func (t target) conn(ctx context.Context) *conn { return &conn{ctx: ctx, t: t} }

// do sends one request (path is relative to the queue) and decodes a JSON
// answer into out if it is set and the answer has a body. A status of 300
// or more is an error carrying the answer's body.
//
// A kept-alive connection the server closed while it was idle fails the
// request before any answer: that request is sent once more on a new
// connection. Unlike http.Transport this resends a POST too, so a server
// that acted on a request and then dropped the connection unanswered
// would get it twice: for a load generator, one extra message.
func (c *conn) do(method, path string, body []byte, out any) error {
	data, status, err := c.roundTrip(method, path, body)
	if err != nil && c.ctx.Err() == nil && errors.Is(err, errIdleClosed) {
		data, status, err = c.roundTrip(method, path, body)
	}
	if err != nil {
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		return err
	}
	if status >= 300 {
		return fmt.Errorf("%s %s: %d %s: %s", method, path, status, http.StatusText(status), bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// errIdleClosed marks a request that failed because the server had closed
// a reused connection before answering anything.
var errIdleClosed = errors.New("load: the server closed the kept-alive connection")

// roundTrip sends one request and reads its whole answer. Any error
// drops the connection; a server that says it closes it gets a new one
// next time.
func (c *conn) roundTrip(method, path string, body []byte) ([]byte, int, error) {
	if c.nc == nil {
		d := net.Dialer{Timeout: 30 * time.Second}
		nc, err := d.DialContext(c.ctx, "tcp", c.t.addr)
		if err != nil {
			return nil, 0, err
		}
		c.nc, c.br, c.bw, c.used = nc, bufio.NewReader(nc), bufio.NewWriter(nc), false
		// A cancelled run must not leave a goroutine blocked in a read.
		c.stop = context.AfterFunc(c.ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	}
	reused := c.used
	c.used = true
	c.bw.WriteString(method + " " + c.t.prefix + path + " HTTP/1.1\r\n" + c.t.header +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	c.bw.Write(body)
	err := c.bw.Flush()
	if err == nil {
		_, err = c.br.Peek(1) // the first byte of the answer
	}
	if err != nil {
		c.close()
		if reused && closedByPeer(err) {
			return nil, 0, fmt.Errorf("%w: %w", errIdleClosed, err)
		}
		return nil, 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return nil, 0, err
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return data, resp.StatusCode, err
}

// closedByPeer reports whether err says the server closed the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// close drops the connection; the next request dials again.
func (c *conn) close() {
	if c.nc != nil {
		c.stop()
		_ = c.nc.Close()
		c.nc = nil
	}
}
