package disclosure_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/testinfra"
)

func newStore(t *testing.T) *disclosure.Store {
	t.Helper()
	_, js, ns := testinfra.NATS(t)
	return &disclosure.Store{JS: js, Namespace: ns, Ring: testinfra.Ring(t)}
}

func pkg(expires time.Time) disclosure.Package {
	return disclosure.Package{Receipt: "20261126-7K3M9Q", Kind: "disclosure", Locale: "ja", GeneratedAt: time.Now().UTC(),
		ExpiresAt: expires, Holders: map[string]json.RawMessage{"members": json.RawMessage(`{"name":"山田 花子"}`)}}
}

func TestAPackageStoredByPutOpensWithItsLinkAlone(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Now()
	id, token, err := s.Put(ctx, pkg(now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if id != disclosure.ID(token) || len(token) != 64 {
		t.Fatalf("id %q token %q; want the id to be the token's hash", id, token)
	}
	p, err := s.Open(ctx, token, now)
	if err != nil || p.Receipt != "20261126-7K3M9Q" || p.CodeRequired {
		t.Fatalf("Open = %+v, %v; want the package, no code required", p, err)
	}
	if _, err := s.Open(ctx, token, now.Add(2*time.Hour)); !errors.Is(err, disclosure.ErrNoPackage) {
		t.Errorf("Open after expiry = %v; want ErrNoPackage", err)
	}
}

func TestAPackageStoredUnderAGivenTokenIsGuardedAndAStoreAgainReplacesIt(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Now()
	token := strings.Repeat("ab", 32)
	id, err := s.PutWithToken(ctx, pkg(now.Add(time.Hour)), token)
	if err != nil {
		t.Fatal(err)
	}
	if id != disclosure.ID(token) {
		t.Errorf("id %q; want ID(token)", id)
	}
	// A retried activity stores again under the same token: one package.
	again := pkg(now.Add(time.Hour))
	again.Kind = "third_party_record_disclosure"
	if id2, err := s.PutWithToken(ctx, again, token); err != nil || id2 != id {
		t.Fatalf("second PutWithToken = %q, %v; want the same id", id2, err)
	}
	p, err := s.Open(ctx, token, now)
	if err != nil || !p.CodeRequired || p.Kind != "third_party_record_disclosure" {
		t.Fatalf("Open = %+v, %v; want the latest package, code required", p, err)
	}
	// The guard is not part of the document a person downloads.
	b, _ := json.Marshal(p)
	if strings.Contains(strings.ToLower(string(b)), "code_required") || strings.Contains(string(b), "CodeRequired") {
		t.Errorf("the package document carries the guard: %s", b)
	}
	if _, err := s.PutWithToken(ctx, pkg(now.Add(time.Hour)), "short"); err == nil {
		t.Error("PutWithToken accepted a malformed token")
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, token, now); !errors.Is(err, disclosure.ErrNoPackage) {
		t.Errorf("Open after purge = %v; want ErrNoPackage", err)
	}
}
