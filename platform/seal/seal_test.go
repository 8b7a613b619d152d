package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

func hanako() *dsrv1.Subject {
	return &dsrv1.Subject{Name: "山田 花子", Email: "hanako@example.jp", Phone: "090-1234-5678", MemberId: "M-1001"}
}

func TestSealedBytesOpenToThePlaintextWithTheSameAAD(t *testing.T) {
	r := testinfra.Ring(t)
	plain := []byte("hanako@example.jp")
	id, nonce, ct, err := r.Seal(plain, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if id != r.ActiveKeyID() {
		t.Errorf("sealed with key %q, want active key %q", id, r.ActiveKeyID())
	}
	if bytes.Contains(ct, plain) {
		t.Error("ciphertext contains the plaintext")
	}
	got, err := r.Open(id, nonce, ct, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("opened %q, want %q", got, plain)
	}
	if _, err := r.Open(id, nonce, ct, []byte("other")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("open with other AAD: err = %v, want ErrOpen", err)
	}
}

func TestSealingTwiceGivesDifferentCiphertexts(t *testing.T) {
	r := testinfra.Ring(t)
	a, err := r.Message(hanako())
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Message(hanako())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.GetNonce(), b.GetNonce()) || bytes.Equal(a.GetCiphertext(), b.GetCiphertext()) {
		t.Error("two seals of the same message share nonce or ciphertext")
	}
}

func TestMessageRoundTrip(t *testing.T) {
	r := testinfra.Ring(t)
	env, err := r.Message(hanako())
	if err != nil {
		t.Fatal(err)
	}
	if env.GetType() != "dsr.v1.Subject" || env.GetKeyId() != r.ActiveKeyID() {
		t.Errorf("envelope type %q key %q", env.GetType(), env.GetKeyId())
	}
	wire, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hanako@example.jp", "山田", "M-1001", "090-1234-5678"} {
		if bytes.Contains(wire, []byte(secret)) {
			t.Errorf("serialised envelope contains %q in the clear", secret)
		}
	}
	var got dsrv1.Subject
	if err := r.OpenMessage(env, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, hanako()) {
		t.Errorf("opened %v, want %v", &got, hanako())
	}
}

func TestTamperedEnvelopeDoesNotOpen(t *testing.T) {
	r := testinfra.Ring(t)
	cases := map[string]func(s *dsrv1.Sealed){
		"flipped ciphertext bit": func(s *dsrv1.Sealed) { s.Ciphertext[0] ^= 0x01 },
		"flipped tag bit":        func(s *dsrv1.Sealed) { s.Ciphertext[len(s.Ciphertext)-1] ^= 0x80 },
		"truncated ciphertext":   func(s *dsrv1.Sealed) { s.Ciphertext = s.Ciphertext[:len(s.Ciphertext)-1] },
		"flipped nonce bit":      func(s *dsrv1.Sealed) { s.Nonce[3] ^= 0x10 },
		"short nonce":            func(s *dsrv1.Sealed) { s.Nonce = s.Nonce[:8] },
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			env, err := r.Message(hanako())
			if err != nil {
				t.Fatal(err)
			}
			tamper(env)
			var got dsrv1.Subject
			if err := r.OpenMessage(env, &got); !errors.Is(err, seal.ErrOpen) {
				t.Errorf("err = %v, want ErrOpen", err)
			}
		})
	}
}

func TestEnvelopeOfOneTypeCannotBeOpenedAsAnother(t *testing.T) {
	r := testinfra.Ring(t)
	env, err := r.Message(hanako())
	if err != nil {
		t.Fatal(err)
	}
	var agent dsrv1.Agent
	if err := r.OpenMessage(env, &agent); err == nil {
		t.Fatal("a sealed Subject opened as an Agent")
	}
	// Relabelling the envelope does not help: the type is bound as AAD.
	env.Type = "dsr.v1.Agent"
	if err := r.OpenMessage(env, &agent); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("relabelled envelope: err = %v, want ErrOpen", err)
	}
	if err := r.OpenMessage(nil, &agent); err == nil {
		t.Error("a nil envelope opened")
	}
}

func TestRotatedRingOpensOldEnvelopesAndSealsWithTheNewKey(t *testing.T) {
	oldSpec, newSpec := testinfra.RingSpec(t, "old"), testinfra.RingSpec(t, "new")
	oldRing, err := seal.ParseRing(oldSpec)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := seal.ParseRing(newSpec + "," + oldSpec)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ActiveKeyID() != "new" {
		t.Errorf("active key = %q, want the first one, new", rotated.ActiveKeyID())
	}
	if got := strings.Join(rotated.KeyIDs(), ","); got != "new,old" {
		t.Errorf("KeyIDs = %s", got)
	}

	oldEnv, err := oldRing.Message(hanako())
	if err != nil {
		t.Fatal(err)
	}
	var got dsrv1.Subject
	if err := rotated.OpenMessage(oldEnv, &got); err != nil {
		t.Fatalf("rotated ring cannot open an envelope sealed before rotation: %v", err)
	}
	if got.GetEmail() != "hanako@example.jp" {
		t.Errorf("opened email %q", got.GetEmail())
	}

	newEnv, err := rotated.Message(hanako())
	if err != nil {
		t.Fatal(err)
	}
	if newEnv.GetKeyId() != "new" {
		t.Errorf("rotated ring sealed with %q, want new", newEnv.GetKeyId())
	}
	if err := oldRing.OpenMessage(newEnv, &got); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("ring without the new key: err = %v, want ErrUnknownKey", err)
	}

	// After the old key is retired, its envelopes no longer open.
	retired, err := seal.ParseRing(newSpec)
	if err != nil {
		t.Fatal(err)
	}
	if err := retired.OpenMessage(oldEnv, &got); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("retired key: err = %v, want ErrUnknownKey", err)
	}
}

func TestParseRingRejectsBadSpecs(t *testing.T) {
	key := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	good := "k1:" + key(32)
	cases := map[string]struct{ spec, want string }{
		"empty":            {"", "empty"},
		"only separators":  {" , ,", "empty"},
		"bad base64":       {"k1:not*base64!", "base64"},
		"short key":        {"k1:" + key(16), "bytes"},
		"long key":         {"k1:" + key(33), "bytes"},
		"duplicate id":     {good + ",k1:" + key(32), "twice"},
		"missing colon":    {"k1" + key(32), ":"},
		"empty id":         {":" + key(32), "seal:"},
		"entry without id": {good + ",a,b:" + key(32), ":"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := seal.ParseRing(c.spec)
			if err == nil {
				t.Fatalf("ParseRing(%q) accepted a ring with keys %v", c.spec, r.KeyIDs())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if _, err := seal.ParseRing(" " + good + " , k2:" + key(32) + " "); err != nil {
		t.Errorf("a well-formed ring with spaces around entries was rejected: %v", err)
	}
}

func TestNewRingRequiresTheActiveKeyInTheRing(t *testing.T) {
	if _, err := seal.NewRing("a", map[string][]byte{"b": bytes.Repeat([]byte{1}, seal.KeySize)}); err == nil {
		t.Error("NewRing accepted an active key that is not in the ring")
	}
}

func TestAnEnvelopeSealedForOneScopeOpensForNoOther(t *testing.T) {
	ring, err := seal.ParseRing(mustSpec(t, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ring.MessageFor(hanako(), "req-1\x00members")
	if err != nil {
		t.Fatal(err)
	}
	var got dsrv1.Subject
	if err := ring.OpenMessageFor(s, &got, "req-1\x00members"); err != nil || got.GetEmail() != hanako().GetEmail() {
		t.Fatalf("own scope: %v, %v", err, &got)
	}
	for _, scope := range []string{"req-2\x00members", "req-1\x00billing", ""} {
		if err := ring.OpenMessageFor(s, &got, scope); err == nil {
			t.Errorf("an envelope for req-1/members opened for scope %q", scope)
		}
	}
	if err := ring.OpenMessage(s, &got); err == nil {
		t.Error("a scoped envelope opened without its scope")
	}
}

func mustSpec(t *testing.T, id string) string {
	t.Helper()
	spec, err := seal.NewKeySpec(id)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
