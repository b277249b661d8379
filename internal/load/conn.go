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
	"time"
)

// conn is one keep-alive HTTP/1.1 connection, owned by one goroutine.
//
// The load generator writes its requests itself and parses answers with
// http.ReadResponse rather than going through an http.Transport: a
// Transport hands every request to two goroutines of its own, and on a
// 2-core machine that client CPU (measured: ~155 µs a message, as much as
// the server's) is taken from the server being measured.
type conn struct {
	addr string
	// prefix is the request line's path up to the queue ("/v2/queues/q");
	// header is every header line but Content-Length.
	prefix, header string
	dial           net.Dialer

	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	stop func() bool // ends the context.AfterFunc that unblocks nc
}

// target is where the requests go: a plain-HTTP address and path prefix.
type target struct {
	addr, prefix, header string
}

func newTarget(o Options) (target, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return target{}, fmt.Errorf("load: URL %q: %w", o.URL, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return target{}, fmt.Errorf("load: URL %q: want http://host[:port]", o.URL)
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
	prefix := u.EscapedPath()
	for len(prefix) > 0 && prefix[len(prefix)-1] == '/' {
		prefix = prefix[:len(prefix)-1]
	}
	return target{addr: addr, prefix: prefix + "/v2/queues/" + url.PathEscape(o.Queue), header: h}, nil
}

func (t target) conn() *conn {
	return &conn{addr: t.addr, prefix: t.prefix, header: t.header}
}

// do sends one request (path is relative to the queue) and decodes a JSON
// answer into out if it is set and the answer has a body. A status of 300
// or more is an error carrying the answer's body.
func (c *conn) do(ctx context.Context, method, path string, body []byte, out any) error {
	if c.nc == nil {
		nc, err := c.dial.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return err
		}
		// A cancelled run must not leave a goroutine blocked in a read.
		c.nc, c.br, c.bw = nc, bufio.NewReader(nc), bufio.NewWriter(nc)
		c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	}
	c.bw.WriteString(method + " " + c.prefix + path + " HTTP/1.1\r\n" + c.header +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	c.bw.Write(body)
	data, status, err := c.answer()
	if err != nil {
		c.close()
		if ctx.Err() != nil {
			return ctx.Err()
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

// answer flushes the request and reads the whole answer; a server that
// says it closes the connection gets a fresh one next time.
func (c *conn) answer() ([]byte, int, error) {
	if err := c.bw.Flush(); err != nil {
		return nil, 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, 0, err
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, 0, err
	}
	if resp.Close {
		c.close()
	}
	return data, resp.StatusCode, nil
}

// close drops the connection; the next request dials again.
func (c *conn) close() {
	if c.nc != nil {
		c.stop()
		_ = c.nc.Close()
		c.nc = nil
	}
}
