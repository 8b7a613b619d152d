package devinfra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Mailpit is a reachable mail catcher: an SMTP server that accepts every
// message and keeps it for reading back through its HTTP API and web UI.
// Notices are sent to SMTPAddr in dev and the end-to-end tests; in
// production SMTP_ADDR points at a real relay instead, and nothing here runs.
type Mailpit struct {
	// SMTPAddr is host:port of the SMTP server (by default no TLS and any
	// or no AUTH; see MailpitOptions).
	SMTPAddr string
	// UIURL is the web UI and API root, e.g. http://127.0.0.1:8025 (no
	// trailing slash).
	UIURL string
	// Started is true when this process started the server (and Stop stops it).
	Started bool
	cmd     *exec.Cmd
	done    chan struct{}
	dir     string
	http    *http.Client
}

// MailpitOptions configure a server started by StartMailpit.
type MailpitOptions struct {
	// Binary is mailpit built from tools/mailpit (bin/mailpit). Empty
	// means MailpitBinary().
	Binary string
	// SMTPPort and UIPort: 0 picks free ports.
	SMTPPort, UIPort int
	// LogFile receives the server's output; empty discards it (and runs
	// mailpit with --quiet).
	LogFile string
	// TLSCert and TLSKey (PEM files) let clients upgrade with STARTTLS;
	// RequireSTARTTLS makes the server refuse mail from a client that does
	// not. AuthFile (mailpit's htpasswd-style password file) accepts only
	// its credentials, instead of any or none. With any of them set, a
	// server is always started: one named by SMTP_ADDR cannot be set up.
	TLSCert, TLSKey string
	RequireSTARTTLS bool
	AuthFile        string
}

// secured reports whether opts ask for TLS or real authentication.
func (opts MailpitOptions) secured() bool {
	return opts.TLSCert != "" || opts.TLSKey != "" || opts.RequireSTARTTLS || opts.AuthFile != ""
}

// StartMailpit returns the mail catcher named by SMTP_ADDR and
// MAILPIT_API_URL (env; both must be set, and the API must answer), or
// starts `mailpit` from opts.Binary on 127.0.0.1.
//
// A started server keeps its messages in a database inside a fresh
// temporary directory that Stop removes, so nothing persists between runs.
// It never reaches the internet: version checks, remote CSS/fonts and
// reverse DNS are off, and MP_* variables from our environment (which could
// enable relaying, webhooks or a persistent database) are not passed on.
func StartMailpit(ctx context.Context, opts MailpitOptions) (*Mailpit, error) {
	smtpEnv, apiEnv := os.Getenv("SMTP_ADDR"), os.Getenv("MAILPIT_API_URL")
	if (smtpEnv != "" || apiEnv != "") && !opts.secured() {
		if smtpEnv == "" || apiEnv == "" {
			return nil, errors.New("devinfra: set both SMTP_ADDR and MAILPIT_API_URL to reuse a mail catcher, or neither to start one")
		}
		m := &Mailpit{SMTPAddr: smtpEnv, UIURL: strings.TrimRight(apiEnv, "/"), http: &http.Client{Timeout: 10 * time.Second}}
		if !reachable(smtpEnv) {
			return nil, fmt.Errorf("devinfra: SMTP_ADDR is set but nothing accepts connections at %s", smtpEnv)
		}
		if err := m.ready(ctx); err != nil {
			return nil, fmt.Errorf("devinfra: MAILPIT_API_URL is set but not usable: %w", err)
		}
		return m, nil
	}
	if opts.Binary == "" {
		opts.Binary = MailpitBinary()
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("devinfra: mailpit not found at %s (run `make tools`): %w", opts.Binary, err)
	}
	var err error
	if opts.SMTPPort == 0 {
		if opts.SMTPPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if opts.UIPort == 0 {
		if opts.UIPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "madoguchi-mailpit-")
	if err != nil {
		return nil, fmt.Errorf("devinfra: mailpit dir: %w", err)
	}
	smtpAddr := "127.0.0.1:" + strconv.Itoa(opts.SMTPPort)
	uiAddr := "127.0.0.1:" + strconv.Itoa(opts.UIPort)
	args := []string{
		"--smtp", smtpAddr, "--listen", uiAddr,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--block-remote-css-and-fonts", "--smtp-disable-rdns",
	}
	if opts.AuthFile != "" {
		args = append(args, "--smtp-auth-file", opts.AuthFile)
	} else {
		args = append(args, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	}
	if opts.TLSCert != "" || opts.TLSKey != "" {
		args = append(args, "--smtp-tls-cert", opts.TLSCert, "--smtp-tls-key", opts.TLSKey)
	}
	if opts.RequireSTARTTLS {
		args = append(args, "--smtp-require-starttls")
	}
	cmd := exec.Command(opts.Binary, args...)
	cmd.Dir = dir
	cmd.Env = append(withoutMailpitEnv(os.Environ()), "TMPDIR="+dir)
	// Own process group, as for Temporal: we stop it ourselves.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if opts.LogFile != "" {
		f, err := os.Create(opts.LogFile)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		defer f.Close() // the child has its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	} else {
		cmd.Args = append(cmd.Args, "--quiet")
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("devinfra: start mailpit: %w", err)
	}
	m := &Mailpit{
		SMTPAddr: smtpAddr, UIURL: "http://" + uiAddr, Started: true,
		cmd: cmd, done: make(chan struct{}), dir: dir,
		http: &http.Client{Timeout: 10 * time.Second},
	}
	go func() { _ = cmd.Wait(); close(m.done) }()
	err = waitFor(ctx, 30*time.Second, "mailpit", func() error {
		select {
		case <-m.done:
			return errors.New("mailpit exited (see its log)")
		default:
		}
		if !reachable(m.SMTPAddr) {
			return errors.New("smtp not accepting connections yet")
		}
		return m.ready(ctx)
	})
	if err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// MailpitBinary finds bin/mailpit in the nearest directory, from the working
// directory upwards, that holds go.work (the repository root; tests run in
// their package directory), else returns "bin/mailpit".
func MailpitBinary() string {
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("bin", "mailpit")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "bin", "mailpit")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join("bin", "mailpit")
		}
		dir = parent
	}
}

// withoutMailpitEnv drops mailpit's own MP_* settings.
func withoutMailpitEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "MP_") || strings.HasPrefix(kv, "TMPDIR=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// ready checks that the HTTP API answers.
func (m *Mailpit) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var info struct {
		Version string `json:"Version"`
	}
	return m.get(ctx, "/api/v1/info", &info)
}

// Stop ends a server this process started (SIGTERM, then SIGKILL) and
// removes its database; otherwise it does nothing.
func (m *Mailpit) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	if m.dir != "" {
		_ = os.RemoveAll(m.dir)
	}
}

// MailAddress is a name and address as mailpit reports them.
type MailAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// MailSummary is one message in a search result.
type MailSummary struct {
	// ID is mailpit's database id, for MessageText.
	ID string `json:"ID"`
	// MessageID is the Message-ID header without angle brackets.
	MessageID string        `json:"MessageID"`
	From      MailAddress   `json:"From"`
	To        []MailAddress `json:"To"`
	Subject   string        `json:"Subject"` // decoded
	Created   time.Time     `json:"Created"`
	Snippet   string        `json:"Snippet"`
}

// Messages runs a mailpit search (e.g. `to:"a@example.jp" subject:"code"`;
// see mailpit's search syntax) and returns up to 200 matches, newest first;
// an empty query lists the newest 200 messages. Note that to: matches
// substrings of the address.
func (m *Mailpit) Messages(ctx context.Context, query string) ([]MailSummary, error) {
	if strings.TrimSpace(query) == "" {
		return m.Page(ctx, 0, 200)
	}
	return m.list(ctx, "/api/v1/search?"+url.Values{"query": {query}, "limit": {"200"}}.Encode())
}

// Page lists limit messages, newest first, after skipping the newest start:
// a poller that reads pages until it meets a message it has seen reads only
// what is new, where listing the newest 200 each time re-reads the same
// messages and misses any beyond the 200 that arrived between two polls.
func (m *Mailpit) Page(ctx context.Context, start, limit int) ([]MailSummary, error) {
	return m.list(ctx, "/api/v1/messages?"+url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}}.Encode())
}

// list reads the messages of a listing or search answer at path.
func (m *Mailpit) list(ctx context.Context, path string) ([]MailSummary, error) {
	var res struct {
		Messages []MailSummary `json:"messages"`
	}
	if err := m.get(ctx, path, &res); err != nil {
		return nil, err
	}
	return res.Messages, nil
}

// MessageText returns the decoded text/plain body of message id.
func (m *Mailpit) MessageText(ctx context.Context, id string) (string, error) {
	var msg struct {
		Text string `json:"Text"`
	}
	if err := m.get(ctx, "/api/v1/message/"+url.PathEscape(id), &msg); err != nil {
		return "", err
	}
	return msg.Text, nil
}

// WaitForMessage polls until a message addressed exactly to `to` (case
// insensitive) whose subject contains subjectContains has arrived, and
// returns the newest such message. It waits until ctx ends, or 30 seconds
// when ctx has no deadline. Use a recipient address unique to the test when
// the server is shared.
func (m *Mailpit) WaitForMessage(ctx context.Context, to, subjectContains string) (MailSummary, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	query := `to:"` + strings.ReplaceAll(to, `"`, "") + `"`
	var last error
	for {
		msgs, err := m.Messages(ctx, query)
		last = err
		for _, s := range msgs {
			if !strings.Contains(s.Subject, subjectContains) {
				continue
			}
			for _, a := range s.To {
				if strings.EqualFold(a.Address, to) {
					return s, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			// The recipient is personal data in real use: not in the error.
			if last != nil {
				return MailSummary{}, fmt.Errorf("devinfra: no matching message: %w", last)
			}
			return MailSummary{}, fmt.Errorf("devinfra: no matching message: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (m *Mailpit) get(ctx context.Context, path string, out any) error {
	if m.UIURL == "" {
		return errors.New("devinfra: mailpit API URL unknown")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.UIURL+path, nil)
	if err != nil {
		return fmt.Errorf("devinfra: mailpit request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	c := m.http
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		// *url.Error repeats the URL, whose query may hold an address.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("devinfra: mailpit API %s: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("devinfra: mailpit API %s: HTTP %d", strings.SplitN(path, "?", 2)[0], resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("devinfra: mailpit API %s: decode: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	return nil
}
