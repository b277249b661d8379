package herald

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/heraldmq/herald/store"
)

// SMTPOptions configure mailto: deliveries (S1, zaqar-v2 §7.4): each
// notification is mailed as a JSON body.
type SMTPOptions struct {
	// Addr is the server's host:port. Empty means mailto: deliveries fail
	// for good.
	Addr string
	// Username and Password, if set, authenticate with PLAIN (which Go's
	// smtp package sends only over TLS or to localhost).
	Username, Password string
	// From is the sender address. Empty means "herald@localhost".
	From string
	// Subject is the subject line; "{queue}" is replaced by the queue
	// name. A subscription's "subject" option, or a ?subject= in its
	// mailto: URI, wins. Empty means "herald notification: {queue}".
	Subject string
	// TLS, if set, is used for STARTTLS when the server offers it.
	TLS *tls.Config
}

// mail sends one notification by SMTP. Network errors and 4xx replies are
// worth a retry; 5xx replies are permanent.
func (n *notifier) mail(ctx context.Context, sub Subscription, d store.Delivery, body []byte) error {
	o := n.o.SMTP
	if o.Addr == "" {
		return &permanentError{errors.New("herald: no SMTP server configured for mailto: subscribers")}
	}
	u, err := url.Parse(sub.Subscriber)
	if err != nil {
		return &permanentError{err}
	}
	to := u.Opaque
	subject := cmp.Or(u.Query().Get("subject"), optionsOf(sub).Subject, o.Subject, "herald notification: {queue}")
	subject = strings.ReplaceAll(subject, "{queue}", d.Queue.Name)
	from := cmp.Or(o.From, "herald@localhost")

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(o.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpError(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && o.TLS != nil {
		if err := c.StartTLS(o.TLS); err != nil {
			return smtpError(err)
		}
	}
	if o.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", o.Username, o.Password, host)); err != nil {
			return smtpError(err)
		}
	}
	if err := c.Mail(from); err != nil {
		return smtpError(err)
	}
	if err := c.Rcpt(to); err != nil {
		return smtpError(err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(err)
	}
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: application/json\r\n\r\n%s\r\n",
		from, to, strings.NewReplacer("\r", " ", "\n", " ").Replace(subject), body)
	if err := w.Close(); err != nil {
		return smtpError(err)
	}
	return smtpError(c.Quit())
}

// smtpError makes a 5xx reply permanent.
func smtpError(err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return &permanentError{err}
	}
	return err
}
