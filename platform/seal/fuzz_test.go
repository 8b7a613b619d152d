package seal_test

// Fuzz tests for opening envelopes and parsing key rings: whatever arrives
// over NATS or from the environment, the ring never panics and answers with
// the plaintext or a clear error.
//
//	go test -run='^$' -fuzz=FuzzOpenMessage -fuzztime=20s ./platform/seal/
//	go test -run='^$' -fuzz=FuzzOpen -fuzztime=20s ./platform/seal/
//	go test -run='^$' -fuzz=FuzzParseRing -fuzztime=20s ./platform/seal/
//
// The ring uses fixed keys so that committed seeds (testdata/fuzz) can hold
// envelopes that really open.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/seal"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

func fuzzKey(b byte) []byte { return bytes.Repeat([]byte{b}, seal.KeySize) }

// fuzzRing has an active key "fz2" and an older key "fz1"; both are fixed
// (test-only) so that seeds stay valid.
func fuzzRing(tb testing.TB) *seal.Ring {
	tb.Helper()
	r, err := seal.NewRing("fz2", map[string][]byte{"fz2": fuzzKey(0x42), "fz1": fuzzKey(0x17)})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// openTargets are the message types sealed into envelopes.
func openTargets() []proto.Message {
	return []proto.Message{&dsrv1.Subject{}, &dsrv1.PersonalData{}, &dsrv1.Corrections{}, &dsrv1.Export{}}
}

// FuzzOpenMessage feeds arbitrary wire bytes as a dsr.v1.Sealed envelope to
// OpenMessage for each sealed type: never a panic; success only for an
// envelope of that type under a key of the ring, and what opens seals and
// opens again to the same message; every failure is one of the documented
// errors.
func FuzzOpenMessage(f *testing.F) {
	r := fuzzRing(f)
	old, err := seal.NewRing("fz1", map[string][]byte{"fz1": fuzzKey(0x17)})
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range []proto.Message{
		&dsrv1.Subject{Name: "山田 花子", Email: "hanako@example.jp", Phone: "090-1234-5678", MemberId: "M-1001"},
		&dsrv1.PersonalData{Subject: &dsrv1.Subject{Email: "a@example.jp"}, Details: "削除してください"},
		&dsrv1.Corrections{Values: map[string]string{"address": "東京都"}},
		&dsrv1.Export{Holder: "members", Json: []byte(`{"a":1}`)},
	} {
		for _, ring := range []*seal.Ring{r, old} {
			env, err := ring.Message(m)
			if err != nil {
				f.Fatal(err)
			}
			b, _ := proto.Marshal(env)
			f.Add(b)
			env.Type = "dsr.v1.Agent"
			b, _ = proto.Marshal(env)
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, 'f', 'z', '9'})
	f.Fuzz(func(t *testing.T, wire []byte) {
		var env dsrv1.Sealed
		if err := proto.Unmarshal(wire, &env); err != nil {
			return // not an envelope at all: bus.Decode already refuses it
		}
		for _, m := range openTargets() {
			want := string(m.ProtoReflect().Descriptor().FullName())
			err := r.OpenMessage(&env, m)
			if err != nil {
				known := errors.Is(err, seal.ErrUnknownKey) || errors.Is(err, seal.ErrOpen) ||
					strings.HasPrefix(err.Error(), "seal: envelope holds") || strings.HasPrefix(err.Error(), "seal: unmarshal")
				if !known {
					t.Errorf("OpenMessage(%s) failed with an undocumented error: %v", want, err)
				}
				if env.GetType() != want && !strings.Contains(err.Error(), want) {
					t.Errorf("type mismatch error %q does not name %s", err, want)
				}
				continue
			}
			if env.GetType() != want {
				t.Fatalf("envelope of type %q opened as %s", env.GetType(), want)
			}
			if id := env.GetKeyId(); id != "fz1" && id != "fz2" {
				t.Fatalf("envelope under key %q opened", id)
			}
			again, err := r.Message(m)
			if err != nil {
				t.Fatal(err)
			}
			m2 := m.ProtoReflect().New().Interface()
			if err := r.OpenMessage(again, m2); err != nil || !proto.Equal(m, m2) {
				t.Fatalf("opened %s does not reseal and open to itself: %v", want, err)
			}
		}
		if err := r.OpenMessage(nil, &dsrv1.Subject{}); err == nil {
			t.Fatal("nil envelope opened")
		}
	})
}

// FuzzOpen drives Ring.Open with arbitrary key ids, nonces, ciphertexts and
// additional data: only ErrUnknownKey or ErrOpen, never a panic; and a
// ciphertext opens only with the AAD it was sealed with.
func FuzzOpen(f *testing.F) {
	r := fuzzRing(f)
	id, nonce, ct, err := r.Seal([]byte("090-1234-5678"), []byte("dsr.v1.Subject"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(id, nonce, ct, []byte("dsr.v1.Subject"))
	f.Add(id, nonce, ct, []byte("temporal-payload"))
	f.Add("fz1", nonce, ct, []byte("dsr.v1.Subject"))
	f.Add("nope", nonce[:4], ct[:3], []byte{})
	f.Add("", []byte{}, []byte{}, []byte(nil))
	f.Fuzz(func(t *testing.T, keyID string, nonce, ct, aad []byte) {
		pt, err := r.Open(keyID, nonce, ct, aad)
		if err != nil {
			if !errors.Is(err, seal.ErrUnknownKey) && !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("Open failed with an undocumented error: %v", err)
			}
			if pt != nil {
				t.Fatalf("Open returned plaintext with an error")
			}
			return
		}
		if keyID != "fz1" && keyID != "fz2" {
			t.Fatalf("opened under key %q", keyID)
		}
		if _, err := r.Open(keyID, nonce, ct, append(bytes.Clone(aad), 'x')); err == nil {
			t.Fatal("ciphertext also opens with other additional data")
		}
	})
}

// FuzzParseRing parses arbitrary MADOGUCHI_KEYS values: never a panic; a ring
// it builds seals and opens; an error never contains the key material (it
// may end up in a log).
func FuzzParseRing(f *testing.F) {
	k1 := base64.StdEncoding.EncodeToString(fuzzKey(1))
	k2 := base64.StdEncoding.EncodeToString(fuzzKey(2))
	for _, s := range []string{
		"k1:" + k1, "k2:" + k2 + ",k1:" + k1, " k2:" + k2 + " , ", "k1:" + k1 + ",k1:" + k2,
		"k1:" + k1[:10], "k1" + k1, ":" + k1, "a,b:" + k1, "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"", ",", "k1:!!!!", "k1:" + base64.RawStdEncoding.EncodeToString(fuzzKey(1)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		r, err := seal.ParseRing(spec)
		if err != nil {
			if r != nil {
				t.Fatal("ParseRing returned a ring with an error")
			}
			parts := strings.Split(spec, ",")
			var ids []string
			for _, part := range parts {
				id, _, _ := strings.Cut(strings.TrimSpace(part), ":")
				ids = append(ids, id)
			}
			for _, part := range parts {
				_, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
				if !ok || len(b64) < 8 || !strings.Contains(err.Error(), b64) {
					continue
				}
				inID := false
				for _, id := range ids {
					inID = inID || strings.Contains(id, b64)
				}
				if !inID {
					t.Fatalf("ParseRing error %q contains key material", err)
				}
			}
			return
		}
		ids := r.KeyIDs()
		found := false
		for _, id := range ids {
			if id == "" || strings.ContainsAny(id, ":,") {
				t.Fatalf("ring holds key id %q", id)
			}
			found = found || id == r.ActiveKeyID()
		}
		if !found {
			t.Fatalf("active key %q is not among %v", r.ActiveKeyID(), ids)
		}
		id, nonce, ct, err := r.Seal([]byte("x"), []byte("aad"))
		if err != nil || id != r.ActiveKeyID() {
			t.Fatalf("Seal = %q, %v", id, err)
		}
		if pt, err := r.Open(id, nonce, ct, []byte("aad")); err != nil || string(pt) != "x" {
			t.Fatalf("Open(Seal(x)) = %q, %v", pt, err)
		}
	})
}
