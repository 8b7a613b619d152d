package staffsig_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/staffsig"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

const (
	workflowID = "dsr-20261126-7K3M9Q"
	update     = "Decide"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// pair makes a signing key of id on the test's clock, and the keys that
// trust it.
func pair(t *testing.T, id string) (*staffsig.Signer, *staffsig.Keys) {
	t.Helper()
	signing, verify, err := staffsig.NewKeyPair(id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := staffsig.ParseSigningKey(signing)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return now }
	if s.VerifyKey() != verify {
		t.Fatalf("VerifyKey %q, NewKeyPair's %q: the public key is not derived from the signing key", s.VerifyKey(), verify)
	}
	k, err := staffsig.ParseVerifyKeys(verify)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func decision() *dsrv1.Decide {
	return &dsrv1.Decide{Actor: "sato", Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE,
		Corrections: map[string]string{"email": "new@example.jp", "phone": "090", "address": "東京都", "name": "山田"}}
}

func signed(t *testing.T, s *staffsig.Signer, wf, up string) *dsrv1.Decide {
	t.Helper()
	d := decision()
	if err := s.Sign(wf, up, "sato", d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestASignedActionVerifiesAsItsSignerForItsRequestAndUpdateOnly(t *testing.T) {
	s, keys := pair(t, "s1")
	d := signed(t, s, workflowID, update)
	got, err := keys.Verify(workflowID, update, d, now)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Actor != "sato" || got.KeyID != "s1" || !got.IssuedAt.Equal(now) || len(got.Nonce) != 2*staffsig.NonceSize {
		t.Errorf("Verify = %+v", got)
	}
	if again := signed(t, s, workflowID, update); bytes.Equal(again.GetSignature().GetNonce(), d.GetSignature().GetNonce()) {
		t.Error("two signatures share a nonce")
	}

	forger, _ := pair(t, "s1") // the trusted key's id, another key
	stranger, _ := pair(t, "s2")
	altered := signed(t, s, workflowID, update)
	altered.Corrections["email"] = "attacker@example.jp"
	renamed := signed(t, s, workflowID, update)
	renamed.Signature.Actor = "suzuki"
	for name, c := range map[string]struct {
		a    staffsig.Action
		wf   string
		up   string
		want error
	}{
		"unsigned":              {decision(), workflowID, update, staffsig.ErrUnsigned},
		"another request's":     {d, "dsr-20261126-OTHER1", update, staffsig.ErrBadSignature},
		"another update's":      {d, workflowID, "ExtendDeadline", staffsig.ErrBadSignature},
		"altered after signing": {altered, workflowID, update, staffsig.ErrBadSignature},
		"actor changed":         {renamed, workflowID, update, staffsig.ErrBadSignature},
		"forged under the id":   {signed(t, forger, workflowID, update), workflowID, update, staffsig.ErrBadSignature},
		"an untrusted key's":    {signed(t, stranger, workflowID, update), workflowID, update, staffsig.ErrUntrustedKey},
	} {
		if _, err := keys.Verify(c.wf, c.up, c.a, now); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, c.want)
		}
	}
	var none *staffsig.Keys
	if _, err := none.Verify(workflowID, update, d, now); !errors.Is(err, staffsig.ErrNoKeys) {
		t.Errorf("no keys: %v", err)
	}
}

func TestASignatureIsFreshForMaxAgeAndMaxSkewAroundTheWorkflowsTime(t *testing.T) {
	s, keys := pair(t, "s1")
	d := signed(t, s, workflowID, update)
	for _, c := range []struct {
		at   time.Time
		want error
	}{
		{now.Add(staffsig.MaxAge), nil},
		{now.Add(staffsig.MaxAge + time.Second), staffsig.ErrStale},
		{now.Add(-staffsig.MaxSkew), nil},
		{now.Add(-staffsig.MaxSkew - time.Second), staffsig.ErrFuture},
	} {
		_, err := keys.Verify(workflowID, update, d, c.at)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("checked at issue %+v: %v, want %v", c.at.Sub(now), err, c.want)
		}
	}
}

// The actor the signature names is the one the workflow records: an
// action that names someone else is refused even when a key holder signed
// it, and Sign refuses to make one.
func TestTheActionNamesTheActorWhoSignedOrNobody(t *testing.T) {
	s, keys := pair(t, "s1")
	if err := s.Sign(workflowID, update, "suzuki", decision()); !errors.Is(err, staffsig.ErrActor) {
		t.Errorf("Sign for another actor than the action names: %v", err)
	}
	unnamed := decision()
	unnamed.Actor = ""
	if err := s.Sign(workflowID, update, "suzuki", unnamed); err != nil {
		t.Fatal(err)
	}
	if got, err := keys.Verify(workflowID, update, unnamed, now); err != nil || got.Actor != "suzuki" {
		t.Errorf("an action naming nobody: %+v %v, want signed by suzuki", got, err)
	}
	nobody := decision()
	nobody.Actor = ""
	if err := s.Sign(workflowID, update, " ", nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Verify(workflowID, update, nobody, now); !errors.Is(err, staffsig.ErrNoActor) {
		t.Errorf("signed for no actor: %v", err)
	}

	// A key holder's own forgery: the action names sato, the signature
	// suzuki, and the signature is good.
	_, key, _ := ed25519.GenerateKey(nil)
	forger, err := staffsig.NewSigner("s9", key)
	if err != nil {
		t.Fatal(err)
	}
	trusting, err := staffsig.ParseVerifyKeys(forger.VerifyKey())
	if err != nil {
		t.Fatal(err)
	}
	d := decision()
	payload, err := staffsig.Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	sig := &dsrv1.StaffSignature{KeyId: "s9", Actor: "suzuki", IssuedAt: timestamppb.New(now), Nonce: make([]byte, staffsig.NonceSize)}
	sig.Signature = ed25519.Sign(key, staffsig.Message("s9", workflowID, update, "suzuki", sig.IssuedAt, sig.Nonce, payload))
	d.Signature = sig
	if _, err := trusting.Verify(workflowID, update, d, now); !errors.Is(err, staffsig.ErrActor) {
		t.Errorf("an action naming another actor than signed: %v", err)
	}
}

// The canonical payload leaves the signature out and does not depend on
// map order, so the signer and the workflow hash the same bytes.
func TestThePayloadIsTheActionWithoutItsSignatureInADeterministicEncoding(t *testing.T) {
	s, _ := pair(t, "s1")
	d := signed(t, s, workflowID, update)
	want, err := staffsig.Payload(decision())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		got, err := staffsig.Payload(proto.Clone(d).(*dsrv1.Decide))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Payload of the signed action differs from the unsigned one's (%v)", err)
		}
	}
	if d.GetSignature() == nil {
		t.Error("Payload cleared the signature of the action itself")
	}
	// Lengths keep the parts apart: moving a byte from one to the next is
	// another message.
	ts := timestamppb.New(now)
	if bytes.Equal(staffsig.Message("k", "ab", "c", "x", ts, nil, nil), staffsig.Message("k", "a", "bc", "x", ts, nil, nil)) {
		t.Error("Message is ambiguous between adjacent parts")
	}
}

// Rotation: the worker trusts the new key next to the old one, so actions
// signed with either verify until the old one is dropped.
func TestAKeyRingTrustsEachKeyItListsAndRefusesBadEntries(t *testing.T) {
	old, _ := pair(t, "s1")
	next, _ := pair(t, "s2")
	keys, err := staffsig.ParseVerifyKeys(old.VerifyKey() + ", " + next.VerifyKey())
	if err != nil {
		t.Fatal(err)
	}
	if ids := keys.IDs(); strings.Join(ids, ",") != "s1,s2" {
		t.Errorf("IDs = %v", ids)
	}
	for _, s := range []*staffsig.Signer{old, next} {
		if _, err := keys.Verify(workflowID, update, signed(t, s, workflowID, update), now); err != nil {
			t.Errorf("signed with %s: %v", s.KeyID(), err)
		}
	}
	signing, _, _ := staffsig.NewKeyPair("s3")
	for _, bad := range []string{"", "s1", "s1:!!", "s1:AAAA", old.VerifyKey() + "," + old.VerifyKey(), "bad id:" + strings.Split(old.VerifyKey(), ":")[1]} {
		if _, err := staffsig.ParseVerifyKeys(bad); err == nil {
			t.Errorf("ParseVerifyKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), strings.Split(old.VerifyKey(), ":")[1]) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	for _, bad := range []string{"", "s1", "s1:AAAA", old.VerifyKey() + "AAAA", "a,b:" + strings.Split(signing, ":")[1]} {
		if _, err := staffsig.ParseSigningKey(bad); err == nil {
			t.Errorf("ParseSigningKey(%q) accepted", bad)
		}
	}
	if _, err := staffsig.ParseSigningKey(signing); err != nil {
		t.Errorf("ParseSigningKey(NewKeyPair's): %v", err)
	}
}
