package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"madoguchi.dev/workflows/policy/calendar"
)

// DefaultFrom is the sender of every notice unless Sender.From says
// otherwise: the contact point of the privacy policy, so that replies reach
// the people who handle requests.
const DefaultFrom = "株式会社Nico ケアスマイリー <support@caresmiley.jp>"

// DefaultTimeout bounds one delivery when Sender.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Sender delivers notices over SMTP without TLS or AUTH.
//
// In dev and the tests Addr is the mail catcher (devinfra.StartMailpit); in
// production SMTP_ADDR names a relay on the trusted network (a local MTA or
// sidecar) that handles TLS, authentication and onward delivery. Do not
// point it at a server across an untrusted network: the notice, including
// the verification code, would travel in clear.
type Sender struct {
	// Addr is the SMTP server, host:port.
	Addr string
	// From is the From header, e.g. DefaultFrom (used when empty). Its
	// address is also the envelope sender.
	From string
	// Timeout bounds the whole exchange; the context's deadline, if sooner,
	// wins. Zero means DefaultTimeout.
	Timeout time.Duration
	// Hostname is sent in EHLO; empty means the machine's host name.
	Hostname string
	// Now returns the Date header's time; nil means time.Now.
	Now func() time.Time
}

// SendError is a failed delivery. Its message is "smtp send: <step>",
// with the SMTP reply code when the server answered, or the network error
// when it did not; never the server's reply text (which may echo the
// address), the recipient, or the body.
type SendError struct {
	// Step is connect, hello, sender, recipient, data or quit.
	Step string
	// Code is the server's SMTP reply code, or 0.
	Code int
	err  error // network or context error only
}

func (e *SendError) Error() string {
	switch {
	case e.Code != 0:
		return fmt.Sprintf("smtp send: %s: rejected with code %d", e.Step, e.Code)
	case e.err != nil:
		return "smtp send: " + e.Step + ": " + e.err.Error()
	}
	return "smtp send: " + e.Step
}

// Unwrap returns the network or context error, if any.
func (e *SendError) Unwrap() error { return e.err }

// Permanent reports whether retrying the same notice cannot help: the
// server rejected it with a 5xx code.
func (e *SendError) Permanent() bool { return e.Code >= 500 }

func sendErr(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &SendError{Step: step, Code: tp.Code}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &SendError{Step: step, err: err}
	}
	// Anything else (e.g. a malformed reply) is described by its step only.
	return &SendError{Step: step}
}

// Send renders n and delivers it to n.To. It returns the Message-ID
// (with angle brackets), which depends only on n.ID and the sender's
// domain, so a retried notice carries the same one. Errors are
// ErrInvalidNotice (wrapped; do not retry) or *SendError.
func (s *Sender) Send(ctx context.Context, n Notice) (messageID string, err error) {
	msg, messageID, from, to, err := s.build(n)
	if err != nil {
		return "", err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return "", sendErr("connect", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Cancelling ctx unblocks any read or write in progress.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(step string, err error) (string, error) {
		if ctx.Err() != nil {
			return "", &SendError{Step: step, err: ctx.Err()}
		}
		// The connection deadline is ctx's; it can fire just before ctx's
		// own timer does.
		if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
			return "", &SendError{Step: step, err: context.DeadlineExceeded}
		}
		return "", sendErr(step, err)
	}

	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fail("connect", err)
	}
	defer c.Close()
	if err := c.Hello(s.hostname()); err != nil {
		return fail("hello", err)
	}
	if err := c.Mail(from); err != nil {
		return fail("sender", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fail("recipient", err)
	}
	w, err := c.Data()
	if err != nil {
		return fail("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("data", err)
	}
	if err := w.Close(); err != nil {
		return fail("data", err)
	}
	// The message is accepted once DATA is answered; a failed QUIT does
	// not undo that, so it is not an error.
	_ = c.Quit()
	return messageID, nil
}

func (s *Sender) hostname() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}

// build renders n into a complete RFC 5322 message.
func (s *Sender) build(n Notice) (msg []byte, messageID, from, to string, err error) {
	if strings.TrimSpace(n.ID) == "" {
		return nil, "", "", "", invalid("notice needs an ID (stable across retries)")
	}
	rcpt, err := mail.ParseAddress(n.To)
	if err != nil || strings.ContainsAny(rcpt.Address, "\r\n") {
		return nil, "", "", "", invalid("recipient is not a valid address") // never the address itself
	}
	fromHeader := s.From
	if fromHeader == "" {
		fromHeader = DefaultFrom
	}
	sender, err := mail.ParseAddress(fromHeader)
	if err != nil {
		return nil, "", "", "", invalid("sender is not a valid address")
	}
	subject, text, html, err := Render(n)
	if err != nil {
		return nil, "", "", "", err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	messageID = MessageID(n.ID, sender.Address)
	boundary := "=_madoguchi_" + shortHash(n.ID)

	var b bytes.Buffer
	header := func(k, v string) { foldHeader(&b, k, v) }
	header("From", sender.String())
	header("To", (&mail.Address{Address: rcpt.Address}).String())
	header("Subject", mime.QEncoding.Encode("UTF-8", subject))
	header("Date", now().In(calendar.Location()).Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	header("X-Madoguchi-Notice", string(n.Kind))
	header("Content-Language", n.Locale)
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	part := func(contentType, body string) {
		b.WriteString("--" + boundary + "\r\n")
		header("Content-Type", contentType+"; charset=UTF-8")
		header("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		writeBase64(&b, []byte(strings.ReplaceAll(body, "\n", "\r\n")))
	}
	part("text/plain", text)
	part("text/html", strings.ReplaceAll(html, "\r\n", "\n"))
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), messageID, sender.Address, rcpt.Address, nil
}

// MessageID derives the Message-ID of notice id sent from fromAddress:
// <notice.ID@domain> when id is made of safe characters (letters, digits,
// . - _) and at most 64 long, else <notice.HASH@domain>. The same id always
// gives the same Message-ID, so a retry can be recognised downstream.
func MessageID(id, fromAddress string) string {
	domain := "madoguchi.invalid"
	if at := strings.LastIndexByte(fromAddress, '@'); at >= 0 && at < len(fromAddress)-1 {
		domain = fromAddress[at+1:]
	}
	local := id
	if !safeID(id) {
		local = shortHash(id)
	}
	return "<notice." + local + "@" + domain + ">"
}

func safeID(id string) bool {
	if id == "" || len(id) > 64 || strings.HasPrefix(id, ".") || strings.HasSuffix(id, ".") || strings.Contains(id, "..") {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// foldHeader writes "Name: value" folded at spaces so that lines stay
// within 78 characters where the words allow (RFC 5322 2.1.1, 2.2.3).
// Q-encoded values are sequences of encoded words of at most 75
// characters separated by spaces, so they always fold; a first word that
// does not fit beside the name moves to the next line.
func foldHeader(b *bytes.Buffer, name, value string) {
	const limit = 78
	b.WriteString(name + ":")
	line := len(name) + 1
	for _, w := range strings.Split(value, " ") {
		if line+1+len(w) > limit && line > 0 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" " + w)
		line += 1 + len(w)
	}
	b.WriteString("\r\n")
}

// writeBase64 writes data base64-encoded in lines of 76 characters.
func writeBase64(b *bytes.Buffer, data []byte) {
	s := base64.StdEncoding.EncodeToString(data)
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	if s != "" {
		b.WriteString(s + "\r\n")
	}
}
