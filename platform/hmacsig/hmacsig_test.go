package hmacsig

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestASignedRequestVerifiesAndAnyChangeBreaksIt(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"payment_id":"pay_1","amount_jpy":1000}`)
	h := http.Header{}
	Sign(h, secret, body, now)
	if err := Verify(h, body, now.Add(time.Minute), secret); err != nil {
		t.Fatalf("fresh signature refused: %v", err)
	}
	if err := Verify(h, []byte(strings.Replace(string(body), "1000", "10000", 1)), now, secret); !errors.Is(err, ErrBad) {
		t.Errorf("altered body: %v, want ErrBad", err)
	}
	if err := Verify(h, body, now, []byte("another-secret-another-secret-!!")); !errors.Is(err, ErrBad) {
		t.Errorf("other secret: %v, want ErrBad", err)
	}
	moved := h.Clone()
	moved.Set(HeaderTimestamp, "1800000001")
	if err := Verify(moved, body, now, secret); !errors.Is(err, ErrBad) {
		t.Errorf("timestamp changed under the signature: %v, want ErrBad", err)
	}
	if err := Verify(h, body, now.Add(Tolerance+time.Second), secret); !errors.Is(err, ErrStale) {
		t.Errorf("replayed after the tolerance: %v, want ErrStale", err)
	}
	if err := Verify(http.Header{}, body, now, secret); !errors.Is(err, ErrMissing) {
		t.Errorf("unsigned: %v, want ErrMissing", err)
	}
}

func TestARotatingSenderMaySignWithBothSecrets(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte("{}")
	old := []byte("old-secret-old-secret-old-secret")
	h := http.Header{}
	h.Set(HeaderTimestamp, "1800000000")
	h.Set(HeaderSignature, "v1="+Mac(old, now.Unix(), body)+", v1="+Mac(secret, now.Unix(), body))
	if err := Verify(h, body, now, secret); err != nil {
		t.Errorf("new secret among two signatures: %v", err)
	}
}

func TestSecretsAreParsedAndShortOnesRefusedWithoutShowingThem(t *testing.T) {
	m, err := ParseSecrets("PAYMENT_SECRETS", "bank="+string(secret)+", card="+string(secret))
	if err != nil || len(m) != 2 || string(m["bank"]) != string(secret) {
		t.Fatalf("parsed %v, %v", m, err)
	}
	_, err = ParseSecrets("PAYMENT_SECRETS", "bank=short-secret")
	if err == nil || strings.Contains(err.Error(), "short-secret") || !strings.Contains(err.Error(), "PAYMENT_SECRETS") {
		t.Errorf("short secret: %v", err)
	}
}
