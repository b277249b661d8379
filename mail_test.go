package herald_test

import (
	"encoding/json"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// smtpServer is a minimal SMTP receiver on loopback: enough of RFC 5321
// for net/smtp to deliver, rejecting recipients that start with "bounce".
type smtpServer struct {
	addr string
	got  chan mailMsg
}

type mailMsg struct {
	from, to string
	data     string
}

func newSMTPServer(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &smtpServer{addr: ln.Addr().String(), got: make(chan mailMsg, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 test ESMTP")
	var m mailMsg
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO", "HELO":
			tp.PrintfLine("250 test")
		case "MAIL":
			m.from = line
			tp.PrintfLine("250 ok")
		case "RCPT":
			if strings.Contains(line, "<bounce") {
				tp.PrintfLine("550 no such user")
				continue
			}
			m.to = line
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = string(data)
			tp.PrintfLine("250 queued")
			s.got <- m
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("250 ok")
		}
	}
}

// mailto: deliveries go through the configured SMTP server as JSON mails
// with the subject template; a 5xx recipient rejection is permanent.
func TestMailtoDelivery(t *testing.T) {
	srv := newSMTPServer(t)
	logs := make(logHook, 1000)
	svc := notifyService(t, herald.NotifyOptions{SMTP: herald.SMTPOptions{Addr: srv.addr, From: "herald@example.com", Subject: "news from {queue}"}}, slogOf(logs))
	requireSubscriber(t, svc)
	ctx := t.Context()
	q := svc.Queue("events")
	_, _, err := q.Subscribe(ctx, "mailto:ops@example.com", herald.SubscribeOptions{})
	require.NoError(t, err)
	_, _, err = q.Subscribe(ctx, "mailto:bounce@example.com", herald.SubscribeOptions{})
	require.NoError(t, err)
	post(t, q, `{"disk":"full"}`)

	var m mailMsg
	select {
	case m = <-srv.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no mail arrived")
	}
	require.Contains(t, m.to, "ops@example.com")
	require.Contains(t, m.data, "Subject: news from events")
	require.Contains(t, m.data, "Content-Type: application/json")
	body := m.data[strings.Index(m.data, "\n\n")+2:]
	var n map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(body)), &n))
	require.Equal(t, map[string]any{"disk": "full"}, n["body"])

	logs.await(t, "delivery failed for good")
	failed, err := q.FailedDeliveries(ctx, herald.ID{}, herald.ID{}, 10)
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "mailto:bounce@example.com", failed[0].Subscriber)
}
