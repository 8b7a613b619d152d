package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/devinfra"
)

// relay is a real mailpit that requires STARTTLS (with a certificate for
// relay.test and 127.0.0.1 from a CA made here) and AUTH with one account.
type relay struct {
	*devinfra.Mailpit
	caFile, user, password string
}

// startRelay generates the CA, the server certificate and the password file
// in a fresh directory and starts mailpit on them.
func startRelay(t *testing.T) *relay {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "notify test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "relay.test"},
		DNSNames: []string{"relay.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	r := &relay{caFile: filepath.Join(dir, "ca.crt"), user: "madoguchi-worker", password: randomHex(t, 12)}
	certFile, keyFile, authFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "smtp-auth")
	sum := sha1.Sum([]byte(r.password)) // htpasswd's {SHA} scheme, which mailpit reads
	for name, b := range map[string][]byte{
		r.caFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		authFile: []byte(r.user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"),
	} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mp, err := devinfra.StartMailpit(ctx, devinfra.MailpitOptions{
		TLSCert: certFile, TLSKey: keyFile, RequireSTARTTLS: true, AuthFile: authFile})
	if err != nil {
		t.Fatalf("mailpit with STARTTLS and AUTH: %v", err)
	}
	t.Cleanup(mp.Stop)
	r.Mailpit = mp
	return r
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sender is the production configuration against r: STARTTLS required (the
// default), r's CA from a file, the certificate's name, AUTH PLAIN.
func (r *relay) sender(t *testing.T, password string) *Sender {
	t.Helper()
	s, err := NewSender(SenderOptions{Addr: r.SMTPAddr, STARTTLS: "required", Username: r.user, Password: password,
		TLSServerName: "relay.test", TLSCAFile: r.caFile, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

// assertNothingArrived waits a moment and checks that the catcher m holds
// no message to `to`.
func assertNothingArrived(t *testing.T, m *devinfra.Mailpit, to string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	msgs, err := m.Messages(context.Background(), `to:"`+to+`"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Errorf("%d messages arrived, want none", len(msgs))
	}
}

// assertNoCredentials checks that an error text names neither the account
// nor its password.
func assertNoCredentials(t *testing.T, s string, r *relay, password string) {
	t.Helper()
	for _, v := range []string{r.user, r.password, password} {
		if v != "" && strings.Contains(s, v) {
			t.Errorf("%q leaks a credential", s)
		}
	}
}

func TestNoticeIsDeliveredOverSTARTTLSWithAuth(t *testing.T) {
	r := startRelay(t)
	n := sampleNotice(VerificationCode, LocaleJA)
	n.To = uniqueAddress(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := r.sender(t, r.password).Send(ctx, n)
	if err != nil {
		t.Fatalf("Send over STARTTLS with AUTH: %v", err)
	}
	got, err := r.WaitForMessage(ctx, n.To, "ご本人確認コード")
	if err != nil {
		t.Fatal(err)
	}
	if "<"+got.MessageID+">" != id {
		t.Errorf("Message-ID %s, Send returned %s", got.MessageID, id)
	}
	text, err := r.MessageText(ctx, got.ID)
	if err != nil || !strings.Contains(text, "482917") {
		t.Errorf("code not in the delivered text (%v)", err)
	}

	// The relay really insists: the same notice in clear, or without
	// AUTH, is refused, and nothing more arrives.
	for name, s := range map[string]*Sender{
		"in clear":  {Addr: r.SMTPAddr, TLS: TLSNone, Timeout: 5 * time.Second},
		"anonymous": {Addr: r.SMTPAddr, Timeout: 5 * time.Second, TLSConfig: r.sender(t, r.password).TLSConfig},
	} {
		if _, err := s.Send(ctx, n); err == nil {
			t.Errorf("%s: the relay accepted the notice", name)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if msgs, err := r.Messages(ctx, `to:"`+n.To+`"`); err != nil || len(msgs) != 1 {
		t.Errorf("%d messages (%v), want exactly the one sent over STARTTLS with AUTH", len(msgs), err)
	}
}

func TestSenderRefusesAServerWithoutSTARTTLS(t *testing.T) {
	// The package's catcher offers no STARTTLS: a Sender that requires it
	// (the default) sends nothing, not even the envelope.
	n := sampleNotice(VerificationCode, LocaleJA)
	n.To = uniqueAddress(t)
	for name, s := range map[string]*Sender{
		"default":  {Addr: catcher.SMTPAddr, Timeout: 5 * time.Second},
		"required": {Addr: catcher.SMTPAddr, TLS: STARTTLSRequired, Timeout: 5 * time.Second, Username: "u", Password: "p"},
	} {
		_, err := s.Send(context.Background(), n)
		var se *SendError
		if !errors.As(err, &se) || se.Step != "starttls" || !errors.Is(err, ErrNoSTARTTLS) || se.Permanent() {
			t.Fatalf("%s: err = %#v, want a retryable starttls SendError", name, err)
		}
		if want := "smtp send: starttls: server does not offer STARTTLS"; err.Error() != want {
			t.Errorf("%s: error %q, want %q", name, err, want)
		}
		assertNoSentinels(t, err.Error())
		if strings.Contains(err.Error(), n.To) {
			t.Errorf("error names the recipient: %q", err)
		}
		_, aerr := Activities{Sender: s}.SendNotice(context.Background(), n)
		var appErr *temporal.ApplicationError
		if !errors.As(aerr, &appErr) || appErr.NonRetryable() || appErr.Type() != "NoticeNotSent" {
			t.Errorf("%s: activity error %#v, want a retryable NoticeNotSent", name, aerr)
		}
	}
	assertNothingArrived(t, catcher, n.To)
}

func TestSenderFailsClearlyOnWrongCredentials(t *testing.T) {
	r := startRelay(t)
	n := sampleNotice(Receipt, LocaleEN)
	n.To = uniqueAddress(t)
	wrong := "not-" + r.password
	_, err := r.sender(t, wrong).Send(context.Background(), n)
	var se *SendError
	if !errors.As(err, &se) || se.Step != "auth" || se.Code != 535 || se.Permanent() {
		t.Fatalf("err = %#v, want auth rejected with 535, retryable", err)
	}
	if want := "smtp send: auth: rejected with code 535"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	assertNoSentinels(t, err.Error())
	assertNoCredentials(t, err.Error(), r, wrong)
	assertNothingArrived(t, r.Mailpit, n.To)
}

func TestSenderRefusesAnUntrustedCertificate(t *testing.T) {
	r := startRelay(t)
	n := sampleNotice(Receipt, LocaleEN)
	n.To = uniqueAddress(t)
	for name, s := range map[string]*Sender{
		// The system roots do not know the test CA.
		"unknown authority": {Addr: r.SMTPAddr, Timeout: 5 * time.Second, Username: r.user, Password: r.password},
		// The certificate is for relay.test and 127.0.0.1, not this name.
		"wrong name": {Addr: r.SMTPAddr, Timeout: 5 * time.Second, Username: r.user, Password: r.password,
			TLSConfig: &tls.Config{ServerName: "smtp.example.com", RootCAs: r.sender(t, r.password).TLSConfig.RootCAs}},
	} {
		_, err := s.Send(context.Background(), n)
		var se *SendError
		if !errors.As(err, &se) || se.Step != "starttls" || se.Permanent() || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: err = %v, want a starttls certificate error", name, err)
			continue
		}
		assertNoSentinels(t, err.Error())
		assertNoCredentials(t, err.Error(), r, "")
	}
	assertNothingArrived(t, r.Mailpit, n.To)
}

func TestSenderConfigurationIsChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		o    SenderOptions
		want string // in the error; "" = accepted
	}{
		{"default is STARTTLS", SenderOptions{Addr: "smtp.example.com:587"}, ""},
		{"none on loopback", SenderOptions{Addr: "127.0.0.1:1025", STARTTLS: "none"}, ""},
		{"none on localhost", SenderOptions{Addr: "localhost:1025", STARTTLS: "none"}, ""},
		{"none on ::1", SenderOptions{Addr: "[::1]:1025", STARTTLS: "none"}, ""},
		{"none across a network", SenderOptions{Addr: "smtp.example.com:25", STARTTLS: "none"}, "loopback"},
		{"none on a private address", SenderOptions{Addr: "10.0.0.5:25", STARTTLS: "none"}, "loopback"},
		{"credentials in clear", SenderOptions{Addr: "127.0.0.1:1025", STARTTLS: "none", Username: "u", Password: "pw-SENTINEL"}, "only over STARTTLS"},
		{"unknown mode", SenderOptions{Addr: "smtp.example.com:587", STARTTLS: "opportunistic"}, "want required or none"},
		{"password alone", SenderOptions{Addr: "smtp.example.com:587", Password: "pw-SENTINEL"}, "without SMTP_USERNAME"},
		{"CA with none", SenderOptions{Addr: "127.0.0.1:1025", STARTTLS: "none", TLSCAFile: "/x"}, "need SMTP_STARTTLS=required"},
		{"missing CA", SenderOptions{Addr: "smtp.example.com:587", TLSCAFile: filepath.Join(t.TempDir(), "none.pem")}, "SMTP_TLS_CA"},
	} {
		s, err := NewSender(c.o)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want ErrConfig with %q", c.name, err, c.want)
		case err != nil:
			assertNoSentinels(t, err.Error())
		case s.Check() != nil:
			t.Errorf("%s: NewSender accepted what Check refuses", c.name)
		}
	}
	// Send checks too: a hand-built Sender does not send in clear across a
	// network, and says why before connecting anywhere.
	_, err := (&Sender{Addr: "192.0.2.1:25", TLS: TLSNone}).Send(context.Background(), sampleNotice(Receipt, LocaleJA))
	var se *SendError
	if !errors.As(err, &se) || se.Step != "config" || !errors.Is(err, ErrConfig) || se.Permanent() {
		t.Errorf("Send with TLSNone to a remote address: %#v", err)
	}
}
