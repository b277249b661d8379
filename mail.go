package herald

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
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
	// TLS configures STARTTLS, used whenever the server offers it. Nil
	// means verify the server's certificate for the host in Addr.
	TLS *tls.Config
}

// mail sends one notification by SMTP. Network errors and 4xx replies are
// worth a retry; 5xx replies are permanent.
func (n *notifier) mail(ctx context.Context, sub Subscription, d store.Delivery, body []byte) error {
	o := n.o.SMTP
	if o.Addr == "" {
		return &permanentError{errors.New("herald: no SMTP server configured for mailto: subscribers")}
	}
	to, u, err := mailAddress(sub.Subscriber)
	if err != nil {
		return &permanentError{err}
	}
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
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := o.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return smtpError(err)
		}
	}
	if o.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", o.Username, o.Password, host)); err != nil {
			return &permanentError{err} // wrong credentials or no TLS: a retry cannot help
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

// mailAddress returns the address of a mailto: URI (percent-decoded, an
// optional display name dropped) and the parsed URI.
func mailAddress(subscriber string) (string, *url.URL, error) {
	u, err := url.Parse(subscriber)
	if err != nil {
		return "", nil, err
	}
	raw, err := url.PathUnescape(u.Opaque)
	if err != nil {
		return "", nil, err
	}
	a, err := mail.ParseAddress(raw)
	if err != nil {
		return "", nil, err
	}
	return a.Address, u, nil
}
