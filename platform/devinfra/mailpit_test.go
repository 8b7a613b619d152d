package devinfra

import (
	"context"
	"fmt"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// startMailpit runs the real bin/mailpit for one test.
func startMailpit(t *testing.T) *Mailpit {
	t.Helper()
	t.Setenv("SMTP_ADDR", "")
	t.Setenv("MAILPIT_API_URL", "")
	bin := MailpitBinary()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mailpit binary missing at %s: build it with `cd tools/mailpit && GOWORK=off go build -o ../../bin/ tool`", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	m, err := StartMailpit(ctx, MailpitOptions{Binary: bin})
	if err != nil {
		t.Fatalf("StartMailpit: %v", err)
	}
	t.Cleanup(m.Stop)
	return m
}

const testMessage = "From: =?UTF-8?b?56qT5Y+j?= <support@caresmiley.jp>\r\n" +
	"To: hanako@example.jp\r\n" +
	"Subject: =?UTF-8?q?=E7=A2=BA=E8=AA=8D=E3=82=B3=E3=83=BC=E3=83=89?= 20261126-7K3M9Q\r\n" + // 確認コード
	"Message-ID: <test-1@caresmiley.jp>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"56K66KqN44Kz44O844OJ77yaIDQ4MjkxNwo=\r\n" // 確認コード： 482917

func TestMailpitReceivesAndReturnsMessages(t *testing.T) {
	m := startMailpit(t)
	if !m.Started || !strings.HasPrefix(m.SMTPAddr, "127.0.0.1:") || !strings.HasPrefix(m.UIURL, "http://127.0.0.1:") {
		t.Fatalf("unexpected server %+v", m)
	}
	// Any AUTH is accepted without TLS; none is accepted too.
	if err := smtp.SendMail(m.SMTPAddr, nil, "support@caresmiley.jp", []string{"hanako@example.jp"}, []byte(testMessage)); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := smtp.SendMail(m.SMTPAddr, nil, "support@caresmiley.jp", []string{"ahanako@example.jp"},
		[]byte(strings.Replace(testMessage, "To: hanako@", "To: ahanako@", 1))); err != nil {
		t.Fatalf("send: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := m.WaitForMessage(ctx, "hanako@example.jp", "確認コード")
	if err != nil {
		t.Fatalf("WaitForMessage: %v", err)
	}
	if got.Subject != "確認コード 20261126-7K3M9Q" || got.MessageID != "test-1@caresmiley.jp" {
		t.Fatalf("summary = %+v", got)
	}
	if len(got.To) != 1 || got.To[0].Address != "hanako@example.jp" {
		t.Fatalf("WaitForMessage matched another recipient: %+v", got.To)
	}
	text, err := m.MessageText(ctx, got.ID)
	if err != nil {
		t.Fatalf("MessageText: %v", err)
	}
	if !strings.Contains(text, "確認コード： 482917") {
		t.Fatalf("text = %q", text)
	}

	// to: matches substrings, so both messages are found here.
	all, err := m.Messages(ctx, `to:"hanako@example.jp"`)
	if err != nil || len(all) != 2 {
		t.Fatalf("Messages = %d, %v; want 2", len(all), err)
	}
	none, err := m.Messages(ctx, `to:"nobody@example.jp"`)
	if err != nil || len(none) != 0 {
		t.Fatalf("Messages(nobody) = %d, %v", len(none), err)
	}
}

func TestMailpitPagesListTheNewestMessagesFirstWithoutOverlap(t *testing.T) {
	m := startMailpit(t)
	for i := range 5 {
		msg := strings.Replace(testMessage, "test-1@", fmt.Sprintf("page-%d@", i), 1)
		if err := smtp.SendMail(m.SMTPAddr, nil, "support@caresmiley.jp", []string{"hanako@example.jp"}, []byte(msg)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	var last time.Time
	for start := 0; ; start += 2 {
		page, err := m.Page(ctx, start, 2)
		if err != nil {
			t.Fatalf("Page(%d, 2): %v", start, err)
		}
		if len(page) > 2 {
			t.Fatalf("Page(%d, 2) returned %d messages", start, len(page))
		}
		for _, s := range page {
			if !last.IsZero() && s.Created.After(last) {
				t.Fatalf("%s (%s) listed after a message created at %s: not newest first", s.MessageID, s.Created, last)
			}
			ids, last = append(ids, s.MessageID), s.Created
		}
		if len(page) < 2 {
			break
		}
	}
	// Each message once: the pages neither overlap nor leave a gap.
	slices.Sort(ids)
	want := []string{"page-0@caresmiley.jp", "page-1@caresmiley.jp", "page-2@caresmiley.jp", "page-3@caresmiley.jp", "page-4@caresmiley.jp"}
	if !slices.Equal(ids, want) {
		t.Fatalf("pages listed %v, want each of %v once", ids, want)
	}
}

func TestMailpitWaitForMessageTimesOutWithoutNamingTheRecipient(t *testing.T) {
	m := startMailpit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err := m.WaitForMessage(ctx, "secret.person@example.jp", "anything")
	if err == nil {
		t.Fatal("want a timeout")
	}
	if strings.Contains(err.Error(), "secret.person") {
		t.Fatalf("error names the recipient: %v", err)
	}
}

func TestMailpitStopEndsTheServerAndRemovesItsData(t *testing.T) {
	m := startMailpit(t)
	dir := m.dir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("data dir: %v", err)
	}
	m.Stop()
	select {
	case <-m.done:
	default:
		t.Fatal("process still running after Stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir not removed: %v", err)
	}
	if reachable(m.SMTPAddr) {
		t.Fatal("SMTP still accepting after Stop")
	}
	m.Stop() // idempotent
}

func TestMailpitReusesTheOneNamedByTheEnvironment(t *testing.T) {
	first := startMailpit(t)
	t.Setenv("SMTP_ADDR", first.SMTPAddr)
	t.Setenv("MAILPIT_API_URL", first.UIURL+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := StartMailpit(ctx, MailpitOptions{Binary: "/nonexistent"})
	if err != nil {
		t.Fatalf("StartMailpit: %v", err)
	}
	if m.Started || m.SMTPAddr != first.SMTPAddr || m.UIURL != first.UIURL {
		t.Fatalf("reused = %+v, want %s %s", m, first.SMTPAddr, first.UIURL)
	}
	m.Stop() // does nothing to the server it did not start
	if !reachable(first.SMTPAddr) {
		t.Fatal("Stop of a reused server stopped it")
	}
	if _, err := m.Messages(ctx, ""); err != nil {
		t.Fatalf("Messages via reused server: %v", err)
	}

	t.Setenv("MAILPIT_API_URL", "")
	if _, err := StartMailpit(ctx, MailpitOptions{Binary: "/nonexistent"}); err == nil {
		t.Fatal("SMTP_ADDR without MAILPIT_API_URL: want an error")
	}
}

func TestMailpitMissingBinary(t *testing.T) {
	t.Setenv("SMTP_ADDR", "")
	t.Setenv("MAILPIT_API_URL", "")
	_, err := StartMailpit(context.Background(), MailpitOptions{Binary: "/nonexistent/mailpit"})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("err = %v", err)
	}
}

func TestWithoutMailpitEnvDropsMPSettings(t *testing.T) {
	got := withoutMailpitEnv([]string{"PATH=/bin", "MP_SMTP_RELAY_ALL=true", "MP_DATABASE=/x", "TMPDIR=/t", "HOME=/root"})
	if strings.Join(got, ",") != "PATH=/bin,HOME=/root" {
		t.Fatalf("got %v", got)
	}
}
