package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
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
	"slices"
	"strings"
	"time"

	"madoguchi.dev/law/calendar"
)

// DefaultFrom is the sender of every notice unless Sender.From says
// otherwise: the contact point of the privacy policy, so that replies reach
// the people who handle requests.
const DefaultFrom = "株式会社Nico ケアスマイリー <support@caresmiley.jp>"

// DefaultTimeout bounds one delivery when Sender.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// TLSMode says how a Sender protects its SMTP session (SMTP_STARTTLS).
type TLSMode string

const (
	// STARTTLSRequired upgrades every session with STARTTLS before the
	// envelope is sent, verifies the server's certificate, and refuses a
	// server that does not offer STARTTLS. The zero TLSMode means it too.
	STARTTLSRequired TLSMode = "required"
	// TLSNone sends in clear. A Sender accepts it only for a loopback
	// address (the dev mail catcher, a relay on the same host or in the
	// same pod) and never with credentials.
	TLSNone TLSMode = "none"
)

// ErrConfig is returned (wrapped) by Check and NewSender, and by Send inside
// a *SendError, for a configuration that must not send.
var ErrConfig = errors.New("notify: smtp configuration")

// ErrNoSTARTTLS is the cause of the *SendError of a session whose server
// does not offer STARTTLS to a Sender that requires it; nothing of the
// notice was sent.
var ErrNoSTARTTLS = errors.New("server does not offer STARTTLS")

// ErrNoAuthPlain is the cause of the *SendError of a session whose server
// does not offer AUTH PLAIN (after STARTTLS) to a Sender with credentials.
var ErrNoAuthPlain = errors.New("server does not offer AUTH PLAIN")

// Sender delivers notices over SMTP: by default it upgrades every session
// with STARTTLS (verifying the server's certificate) and, when given
// credentials, authenticates with AUTH PLAIN inside the TLS session.
//
// In production SMTP_ADDR names the relay (submission port 587) with
// SMTP_STARTTLS=required, the default; the dev stack and the tests send to
// the mail catcher (devinfra.StartMailpit) on 127.0.0.1 with TLSNone, which
// a Sender accepts only for a loopback address, so a notice — with its
// verification code or link — never crosses a network in clear.
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
	// TLS is STARTTLSRequired (also when empty) or TLSNone.
	TLS TLSMode
	// TLSConfig verifies the server after STARTTLS; nil means the system
	// roots. An empty ServerName means the host of Addr.
	TLSConfig *tls.Config
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN, which a Sender sends only inside a STARTTLS session.
	Username, Password string
}

// SenderOptions are the SMTP settings of a worker (README, "Configuration").
type SenderOptions struct {
	// Addr is SMTP_ADDR, From is MAIL_FROM.
	Addr, From string
	// STARTTLS is SMTP_STARTTLS: "required" (also when empty) or "none".
	STARTTLS string
	// Username and Password are SMTP_USERNAME and SMTP_PASSWORD.
	Username, Password string
	// TLSServerName (SMTP_TLS_SERVER_NAME) is the name expected in the
	// relay's certificate when it differs from the host of Addr.
	TLSServerName string
	// TLSCAFile (SMTP_TLS_CA) is a PEM bundle that replaces the system roots
	// for verifying the relay (a private CA).
	TLSCAFile string
	// Timeout bounds one delivery (Sender.Timeout).
	Timeout time.Duration
}

// NewSender builds the Sender of o, reading its CA file, and checks it.
func NewSender(o SenderOptions) (*Sender, error) {
	s := &Sender{Addr: o.Addr, From: o.From, Timeout: o.Timeout, TLS: TLSMode(o.STARTTLS),
		Username: o.Username, Password: o.Password}
	if o.TLSServerName != "" || o.TLSCAFile != "" {
		if s.TLS == TLSNone {
			return nil, fmt.Errorf("%w: SMTP_TLS_SERVER_NAME and SMTP_TLS_CA need SMTP_STARTTLS=required", ErrConfig)
		}
		s.TLSConfig = &tls.Config{ServerName: o.TLSServerName, MinVersion: tls.VersionTLS12}
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: SMTP_TLS_CA: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: SMTP_TLS_CA %s holds no PEM certificate", ErrConfig, o.TLSCAFile)
		}
		s.TLSConfig.RootCAs = pool
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return s, nil
}

// Check reports a configuration that would send a notice unprotected or
// credentials in clear: an unknown TLS mode, TLSNone to an address that is
// not loopback, a password without a user name, or credentials with TLSNone.
// Its errors wrap ErrConfig and name the setting, never the credentials.
func (s *Sender) Check() error {
	switch s.TLS {
	case "", STARTTLSRequired:
	case TLSNone:
		if !loopback(s.Addr) {
			return fmt.Errorf("%w: SMTP_STARTTLS=none is allowed only for a loopback SMTP_ADDR (127.0.0.1, ::1, localhost); "+
				"a relay across a network needs STARTTLS", ErrConfig)
		}
		if s.Username != "" || s.Password != "" {
			return fmt.Errorf("%w: SMTP_USERNAME and SMTP_PASSWORD are sent only over STARTTLS; SMTP_STARTTLS=none has none", ErrConfig)
		}
	default:
		return fmt.Errorf("%w: SMTP_STARTTLS %q: want required or none", ErrConfig, string(s.TLS))
	}
	if s.Password != "" && s.Username == "" {
		return fmt.Errorf("%w: SMTP_PASSWORD without SMTP_USERNAME", ErrConfig)
	}
	return nil
}

// loopback reports whether the host of addr is a loopback IP literal or
// "localhost" (not resolved: a name is taken at its word only for localhost).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsConfig is the client configuration for STARTTLS with host.
func (s *Sender) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// SendError is a failed delivery. Its message is "smtp send: <step>",
// with the SMTP reply code when the server answered, or else the cause when
// its text carries no personal data (a network, context, TLS or
// configuration error); never the server's reply text (which may echo the
// address), the recipient, the credentials or the body.
type SendError struct {
	// Step is config, connect, hello, starttls, auth, sender, recipient,
	// data or quit.
	Step string
	// Code is the server's SMTP reply code, or 0.
	Code int
	err  error // network, context, TLS or configuration error only
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

// Unwrap returns the cause (network, context, TLS or configuration error,
// ErrNoSTARTTLS, ErrNoAuthPlain), if any.
func (e *SendError) Unwrap() error { return e.err }

// Permanent reports whether retrying the same notice cannot help: the
// server rejected it with a 5xx code. A refused STARTTLS or AUTH (wrong
// credentials) is a fault of the relay or of our configuration, which an
// operator fixes, so it is not permanent and the notice is retried.
func (e *SendError) Permanent() bool {
	switch e.Step {
	case "config", "starttls", "auth":
		return false
	}
	return e.Code >= 500
}

func sendErr(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &SendError{Step: step, Code: tp.Code}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &SendError{Step: step, err: err}
	}
	// A failed handshake says why the certificate was not accepted (names,
	// authority, expiry): facts about the server, not about the person.
	if step == "starttls" {
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
	if err := s.Check(); err != nil {
		return "", &SendError{Step: "config", err: err}
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
	// Nothing of the notice, not even the envelope, leaves before the
	// session is encrypted and the server is verified.
	if s.TLS != TLSNone {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return "", &SendError{Step: "starttls", err: ErrNoSTARTTLS}
		}
		if err := c.StartTLS(s.tlsConfig(host)); err != nil {
			return fail("starttls", err)
		}
	}
	if s.Username != "" {
		// After STARTTLS the server announces its mechanisms anew.
		if ok, mechs := c.Extension("AUTH"); !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return "", &SendError{Step: "auth", err: ErrNoAuthPlain}
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fail("auth", err)
		}
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
