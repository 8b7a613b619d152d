package pseudonym_test

import (
	"bytes"
	"regexp"
	"testing"

	"madoguchi.dev/platform/pseudonym"
)

func key(t *testing.T, b byte) pseudonym.Key {
	t.Helper()
	k, err := pseudonym.NewKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var format = regexp.MustCompile(`^psn_[a-z2-7]{32}$`)

func TestPseudonymIsStableAndWellFormed(t *testing.T) {
	k := key(t, 1)
	a := k.Of(pseudonym.Email, "hanako@example.jp")
	if !format.MatchString(a) {
		t.Errorf("pseudonym %q does not look like psn_<32 base32>", a)
	}
	if b := k.Of(pseudonym.Email, "hanako@example.jp"); a != b {
		t.Errorf("same input, different pseudonyms: %q, %q", a, b)
	}
	// The same secret in another Key value (another service) agrees.
	if b := key(t, 1).Of(pseudonym.Email, "hanako@example.jp"); a != b {
		t.Errorf("two services with the same key disagree: %q, %q", a, b)
	}
	if bytes.Contains([]byte(a), []byte("hanako")) {
		t.Error("pseudonym reveals the identifier")
	}
}

func TestEqualIdentifiersSpelledDifferentlyGetOnePseudonym(t *testing.T) {
	k := key(t, 1)
	cases := []struct {
		typ      pseudonym.Type
		spelling []string
	}{
		{pseudonym.Email, []string{"hanako@example.jp", "HANAKO@EXAMPLE.JP", "ＨＡＮＡＫＯ＠ＥＸＡＭＰＬＥ．ＪＰ", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", "  Hanako@Example.jp \n", "\u3000hanako@example.jp\u3000"}},
		{pseudonym.Phone, []string{"09012345678", "090-1234-5678", "090 1234 5678", "(090) 1234-5678", "０９０－１２３４－５６７８", "０９０（１２３４）５６７８"}},
		{pseudonym.MemberID, []string{"M-1001", "m-1001", "Ｍ－１００１", " M-1001 "}},
	}
	for _, c := range cases {
		want := k.Of(c.typ, c.spelling[0])
		for _, s := range c.spelling[1:] {
			if got := k.Of(c.typ, s); got != want {
				t.Errorf("%s %q -> %q, want %q (as for %q)", c.typ, s, got, want, c.spelling[0])
			}
		}
	}
}

func TestNormalise(t *testing.T) {
	for _, c := range []struct {
		typ      pseudonym.Type
		in, want string
	}{
		{pseudonym.Email, "ＨＡＮＡＫＯ＠ＥＸＡＭＰＬＥ．ＪＰ", "hanako@example.jp"},
		{pseudonym.Phone, "+81 90-1234-5678", "819012345678"},
		{pseudonym.Phone, "０９０－１２３４－５６７８", "09012345678"},
		{pseudonym.MemberID, "ｍ－１００１", "M-1001"},
	} {
		if got := pseudonym.Normalise(c.typ, c.in); got != c.want {
			t.Errorf("Normalise(%s, %q) = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}

func TestDifferentIdentifiersTypesAndKeysDiffer(t *testing.T) {
	k1, k2 := key(t, 1), key(t, 2)
	seen := map[string]string{}
	add := func(what, p string) {
		t.Helper()
		if prev, dup := seen[p]; dup {
			t.Errorf("%s and %s share the pseudonym %q", what, prev, p)
		}
		seen[p] = what
	}
	add("email hanako key1", k1.Of(pseudonym.Email, "hanako@example.jp"))
	add("email taro key1", k1.Of(pseudonym.Email, "taro@example.jp"))
	add("email hanako key2", k2.Of(pseudonym.Email, "hanako@example.jp"))
	// The same characters as different identifier types.
	add("email 12345", k1.Of(pseudonym.Email, "12345"))
	add("phone 12345", k1.Of(pseudonym.Phone, "12345"))
	add("member 12345", k1.Of(pseudonym.MemberID, "12345"))
}

func TestEmptyIdentifierHasNoPseudonym(t *testing.T) {
	k := key(t, 1)
	for _, c := range []struct {
		typ pseudonym.Type
		v   string
	}{{pseudonym.Email, ""}, {pseudonym.Email, "  \t"}, {pseudonym.Email, "\u3000"}, {pseudonym.Phone, ""}, {pseudonym.Phone, "---"}, {pseudonym.MemberID, " "}} {
		if got := k.Of(c.typ, c.v); got != "" {
			t.Errorf("Of(%s, %q) = %q, want empty", c.typ, c.v, got)
		}
	}
}

func TestShortKeysAreRefused(t *testing.T) {
	if _, err := pseudonym.NewKey(make([]byte, 31)); err == nil {
		t.Error("NewKey accepted a 31-byte secret")
	}
}

func TestKeyDoesNotAliasTheCallersSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	k, err := pseudonym.NewKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	before := k.Of(pseudonym.Email, "hanako@example.jp")
	secret[0] = 9
	if after := k.Of(pseudonym.Email, "hanako@example.jp"); after != before {
		t.Error("changing the caller's slice changed the key")
	}
}
