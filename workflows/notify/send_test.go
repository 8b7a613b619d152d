package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/devinfra"
)

// catcher is plain SMTP on 127.0.0.1: the tests that deliver to it, and to
// the fake servers below, opt out of STARTTLS with TLSNone, as the dev stack
// does (starttls_test.go covers the default).
var catcher *devinfra.Mailpit

// TestMain starts one real mailpit (bin/mailpit, or the one named by
// SMTP_ADDR and MAILPIT_API_URL) for the package and stops it at the end.
func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	mp, err := devinfra.StartMailpit(ctx, devinfra.MailpitOptions{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify tests need mailpit:", err)
		os.Exit(1)
	}
	catcher = mp
	code := m.Run()
	mp.Stop()
	os.Exit(code)
}

func uniqueAddress(t *testing.T) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "notify-" + hex.EncodeToString(b) + "@example.jp"
}

func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

func TestSendDeliversReadableMailInBothLocales(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		loc  string
		find string // in the decoded subject
	}{
		{VerificationCode, LocaleJA, "ご本人確認コード"},
		{VerificationCode, LocaleEN, "verification code"},
		{EntrustedNotice, LocaleJA, "委託を受けた個人データ"}, // a long subject, folded over several encoded words
		{Decision, LocaleEN, "decision"},
	} {
		to := uniqueAddress(t)
		n := sampleNotice(c.kind, c.loc)
		n.To = to
		s := &Sender{Addr: catcher.SMTPAddr, TLS: TLSNone, Timeout: 10 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		id, err := s.Send(ctx, n)
		if err != nil {
			cancel()
			t.Fatalf("%s/%s: Send: %v", c.loc, c.kind, err)
		}
		got, err := catcher.WaitForMessage(ctx, to, c.find)
		if err != nil {
			cancel()
			t.Fatalf("%s/%s: WaitForMessage: %v", c.loc, c.kind, err)
		}
		wantSubject, wantText, _ := mustRender(t, n)
		if got.Subject != wantSubject {
			t.Errorf("subject decoded as %q, want %q", got.Subject, wantSubject)
		}
		if "<"+got.MessageID+">" != id || id != MessageID(n.ID, "support@caresmiley.jp") {
			t.Errorf("Message-ID = %q, Send returned %q", got.MessageID, id)
		}
		if got.From.Address != "support@caresmiley.jp" || got.From.Name != "株式会社Nico ケアスマイリー" {
			t.Errorf("From = %+v", got.From)
		}
		text, err := catcher.MessageText(ctx, got.ID)
		cancel()
		if err != nil {
			t.Fatalf("MessageText: %v", err)
		}
		if normalize(text) != normalize(wantText) {
			t.Errorf("%s/%s text read back differs:\n%s\n---want---\n%s", c.loc, c.kind, text, wantText)
		}
		if c.kind == VerificationCode && !strings.Contains(text, "482917") {
			t.Errorf("code not readable from the catcher: %s", text)
		}
	}
}

func TestResendKeepsTheMessageID(t *testing.T) {
	to := uniqueAddress(t)
	n := sampleNotice(Receipt, LocaleJA)
	n.To, n.ID = to, "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b.receipt.1"
	s := &Sender{Addr: catcher.SMTPAddr, TLS: TLSNone}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	first, err := s.Send(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Send(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first != "<notice.0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b.receipt.1@caresmiley.jp>" {
		t.Fatalf("Message-IDs %s, %s", first, second)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, err := catcher.Messages(ctx, `to:"`+to+`"`)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 2 {
			if msgs[0].MessageID != msgs[1].MessageID {
				t.Fatalf("resend has another Message-ID: %s vs %s", msgs[0].MessageID, msgs[1].MessageID)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want 2", len(msgs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMessageIDs(t *testing.T) {
	if got := MessageID("req-1.receipt", "support@caresmiley.jp"); got != "<notice.req-1.receipt@caresmiley.jp>" {
		t.Errorf("got %s", got)
	}
	unsafe := MessageID("hanako@example.jp/x y", "support@caresmiley.jp")
	if strings.Contains(unsafe, "hanako") || unsafe != MessageID("hanako@example.jp/x y", "support@caresmiley.jp") {
		t.Errorf("unsafe id not hashed stably: %s", unsafe)
	}
	if got := MessageID("a", "nobody"); got != "<notice.a@madoguchi.invalid>" {
		t.Errorf("got %s", got)
	}
}

func TestBuiltMessageIsWellFormedMIME(t *testing.T) {
	s := &Sender{Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, jst) }}
	n := sampleNotice(EntrustedReminder, LocaleJA)
	msg, id, from, to, err := s.build(n)
	if err != nil {
		t.Fatal(err)
	}
	if from != "support@caresmiley.jp" || to != "hanako@example.jp" {
		t.Fatalf("envelope %s -> %s", from, to)
	}
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line of %d chars: %q", len(line), line)
		}
	}
	if bytes.Contains(bytes.ReplaceAll(msg, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("bare LF in message")
	}
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	subject, text, html := mustRender(t, n)
	dec := new(mime.WordDecoder)
	if got, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || got != subject {
		t.Errorf("subject %q (%v), want %q", got, err, subject)
	}
	if !strings.Contains(m.Header.Get("Subject"), "=?UTF-8?q?") {
		t.Errorf("subject not Q-encoded: %s", m.Header.Get("Subject"))
	}
	for k, want := range map[string]string{
		"Message-ID": id, "Date": "Thu, 26 Nov 2026 09:00:00 +0900", "MIME-Version": "1.0",
		"Auto-Submitted": "auto-generated", "X-Madoguchi-Notice": "entrusted_reminder",
		"Content-Language": "ja", "To": "<hanako@example.jp>",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if f, err := (&mail.AddressParser{WordDecoder: dec}).Parse(m.Header.Get("From")); err != nil || f.Name != "株式会社Nico ケアスマイリー" {
		t.Errorf("From = %v %v", f, err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %s %v", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for _, want := range []struct{ ct, body string }{{"text/plain; charset=UTF-8", text}, {"text/html; charset=UTF-8", html}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Type") != want.ct || p.Header.Get("Content-Transfer-Encoding") != "base64" {
			t.Errorf("part headers %v", p.Header)
		}
		// multipart.Reader does not undo base64; do it here.
		raw, _ := io.ReadAll(p)
		body, err := decodeBase64Lines(raw)
		if err != nil {
			t.Fatal(err)
		}
		if normalize(body) != normalize(want.body) {
			t.Errorf("%s part differs", want.ct)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("extra part: %v", err)
	}
}

func decodeBase64Lines(raw []byte) (string, error) {
	var out bytes.Buffer
	d := base64Decoder(bytes.NewReader(bytes.ReplaceAll(raw, []byte("\r\n"), nil)))
	_, err := io.Copy(&out, d)
	return out.String(), err
}

func TestInvalidEnvelopeIsRejectedWithoutQuotingIt(t *testing.T) {
	s := &Sender{Addr: catcher.SMTPAddr}
	for name, mutate := range map[string]func(*Notice){
		"no id":          func(n *Notice) { n.ID = "" },
		"bad recipient":  func(n *Notice) { n.To = "hanako at example.jp" },
		"two recipients": func(n *Notice) { n.To = "hanako@example.jp, taro@example.jp" },
		"header inject":  func(n *Notice) { n.To = "hanako@example.jp\r\nBcc: x@example.jp" },
	} {
		n := sampleNotice(Receipt, LocaleJA)
		mutate(&n)
		_, err := s.Send(context.Background(), n)
		if !errors.Is(err, ErrInvalidNotice) {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		assertNoSentinels(t, err.Error())
	}
	bad := &Sender{Addr: catcher.SMTPAddr, From: "not an address"}
	if _, err := bad.Send(context.Background(), sampleNotice(Receipt, LocaleJA)); !errors.Is(err, ErrInvalidNotice) {
		t.Errorf("bad From: %v", err)
	}
}

// fakeSMTP answers RCPT with rcptReply; with silent it accepts connections
// and never says a word. It stands in for a relay that refuses mail, which
// the catcher never does.
func fakeSMTP(t *testing.T, rcptReply string, silent bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				if silent {
					_, _ = io.Copy(io.Discard, c)
					return
				}
				r := bufio.NewReader(c)
				say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
				say("220 fake ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
						say("250 fake")
					case strings.HasPrefix(cmd, "MAIL"):
						say("250 ok")
					case strings.HasPrefix(cmd, "RCPT"):
						say(rcptReply)
					case strings.HasPrefix(cmd, "QUIT"):
						say("221 bye")
						return
					default:
						say("502 no")
					}
				}
			}(c)
		}
	}()
	return l.Addr().String()
}

func TestSendErrorsNameTheStepNotThePerson(t *testing.T) {
	n := sampleNotice(VerificationCode, LocaleJA)
	for _, c := range []struct {
		reply     string
		permanent bool
		errType   string
		retryable bool
	}{
		{"550 5.1.1 <hanako@example.jp>: Recipient address rejected: 482917", true, ErrTypeRejected, false},
		{"451 4.3.0 <hanako@example.jp> try again later", false, "NoticeNotSent", true},
	} {
		addr := fakeSMTP(t, c.reply, false)
		s := &Sender{Addr: addr, TLS: TLSNone, Timeout: 5 * time.Second}
		_, err := s.Send(context.Background(), n)
		var se *SendError
		if !errors.As(err, &se) || se.Step != "recipient" || se.Permanent() != c.permanent {
			t.Fatalf("reply %q: err = %#v", c.reply, err)
		}
		want := "smtp send: recipient: rejected with code " + c.reply[:3]
		if err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		assertNoSentinels(t, err.Error())

		_, aerr := Activities{Sender: s}.SendNotice(context.Background(), n)
		var appErr *temporal.ApplicationError
		if !errors.As(aerr, &appErr) || appErr.Type() != c.errType || appErr.NonRetryable() == c.retryable {
			t.Errorf("activity error for %q: %#v", c.reply, aerr)
		}
		assertNoSentinels(t, aerr.Error())
	}

	// Invalid notices are not retried either.
	bad := n
	bad.Data.Code = ""
	_, aerr := Activities{Sender: &Sender{Addr: catcher.SMTPAddr}}.SendNotice(context.Background(), bad)
	var appErr *temporal.ApplicationError
	if !errors.As(aerr, &appErr) || appErr.Type() != ErrTypeInvalidNotice || !appErr.NonRetryable() {
		t.Errorf("invalid notice: %#v", aerr)
	}

	// Nobody listening.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	_, err := (&Sender{Addr: closed}).Send(context.Background(), n)
	var se *SendError
	if !errors.As(err, &se) || se.Step != "connect" || se.Permanent() || !strings.HasPrefix(err.Error(), "smtp send: connect") {
		t.Errorf("closed port: %v", err)
	}
	assertNoSentinels(t, err.Error())
}

func TestSendGivesUpWhenTheServerHangs(t *testing.T) {
	addr := fakeSMTP(t, "", true)
	n := sampleNotice(Receipt, LocaleEN)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := (&Sender{Addr: addr}).Send(ctx, n)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "smtp send: connect") {
		t.Errorf("err = %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	// Sender.Timeout alone bounds it too.
	start = time.Now()
	_, err = (&Sender{Addr: addr, Timeout: 300 * time.Millisecond}).Send(context.Background(), n)
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("Timeout: err = %v after %s", err, time.Since(start))
	}
}

func base64Decoder(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }
