package onetime_test

import (
	"bytes"
	"testing"

	"madoguchi.dev/platform/onetime"
	"madoguchi.dev/platform/seal"
)

func codes(t *testing.T, id string) onetime.Codes {
	t.Helper()
	spec, err := seal.NewKeySpec(id)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.ParseRing(spec)
	if err != nil {
		t.Fatal(err)
	}
	return onetime.Codes{Ring: ring}
}

func TestTheSameSecretAndIssueGiveTheSameCodeAndAResendAnother(t *testing.T) {
	c := codes(t, "v1")
	s, err := c.NewSecret(onetime.Verification, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Code(s, onetime.Verification, "req-1", 0)
	b, _ := c.Code(s, onetime.Verification, "req-1", 0)
	if a != b || len(a) != 6 {
		t.Fatalf("codes of one issue: %q and %q, want one 6-digit code", a, b)
	}
	differ := 0
	for n := 1; n <= 5; n++ {
		if x, _ := c.Code(s, onetime.Verification, "req-1", n); x != a {
			differ++
		}
	}
	if differ < 4 {
		t.Fatalf("resends repeat the first code too often (%d of 5 differ)", differ)
	}
}

func TestTwoRequestsGetIndependentSecrets(t *testing.T) {
	c := codes(t, "v1")
	s1, _ := c.NewSecret(onetime.Verification, "req-1")
	s2, _ := c.NewSecret(onetime.Verification, "req-1")
	m1, _ := c.MAC(s1, onetime.Verification, "req-1", 0, "123456")
	m2, _ := c.MAC(s2, onetime.Verification, "req-1", 0, "123456")
	if bytes.Equal(m1, m2) {
		t.Fatal("two secrets give the same MAC: the secret is not random")
	}
}

func TestASecretDoesNotOpenForAnotherScopeOrPurpose(t *testing.T) {
	c := codes(t, "v1")
	s, _ := c.NewSecret(onetime.Verification, "req-1")
	if _, err := c.Code(s, onetime.Verification, "req-2", 0); err == nil {
		t.Fatal("a request's secret made a code for another request")
	}
	if _, err := c.Code(s, onetime.Download, "req-1", 0); err == nil {
		t.Fatal("a verification secret made a download code")
	}
}

func TestWithoutTheWorkersRingNoCodeCanBeComputed(t *testing.T) {
	worker := codes(t, "v1")
	other := codes(t, "v1") // same key id, another key: a holder's ring, say
	s, _ := worker.NewSecret(onetime.Verification, "req-1")
	if _, err := other.Code(s, onetime.Verification, "req-1", 0); err == nil {
		t.Fatal("a ring without the worker's key computed a code")
	}
	if _, err := other.MAC(s, onetime.Verification, "req-1", 0, "000000"); err == nil {
		t.Fatal("a ring without the worker's key computed a MAC to test guesses against")
	}
	if _, err := (onetime.Codes{}).NewSecret(onetime.Verification, "req-1"); err == nil {
		t.Fatal("a secret was made with no ring")
	}
}

func TestTheMACTellsTheMailedCodeFromAnyOther(t *testing.T) {
	c := codes(t, "v1")
	s, _ := c.NewSecret(onetime.Download, "pkg")
	code, _ := c.Code(s, onetime.Download, "pkg", 2)
	want, _ := c.MAC(s, onetime.Download, "pkg", 2, code)
	again, _ := c.MAC(s, onetime.Download, "pkg", 2, code)
	wrong, _ := c.MAC(s, onetime.Download, "pkg", 2, "999999")
	otherIssue, _ := c.MAC(s, onetime.Download, "pkg", 1, code)
	if !bytes.Equal(want, again) || bytes.Equal(want, wrong) || bytes.Equal(want, otherIssue) {
		t.Fatal("the MAC does not single out the code mailed for that issue")
	}
}

func TestATokenIsStablePerScopeAndUnknownWithoutTheRing(t *testing.T) {
	c := codes(t, "v1")
	s, _ := c.NewSecret(onetime.Download, "req-1")
	a, _ := c.Token(s, onetime.Download, "req-1")
	b, _ := c.Token(s, onetime.Download, "req-1")
	if a != b || len(a) != 64 {
		t.Fatalf("tokens %q, %q: want one 64-hex-digit token", a, b)
	}
	if _, err := codes(t, "v1").Token(s, onetime.Download, "req-1"); err == nil {
		t.Fatal("a ring without the worker's key computed the token")
	}
	code, _ := c.Code(s, onetime.Download, "req-1", 0)
	if code == a[:6] {
		t.Fatal("the token reveals a code")
	}
}
