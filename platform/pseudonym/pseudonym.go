// Package pseudonym derives stable pseudonymous ids for a person's
// identifiers, so that events can say "forget this person" without saying who.
//
// Every internal service that holds the pseudonym key computes the same id
// for its own copy of an identifier and can look it up; nobody can reverse it.
package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Type is the kind of identifier being pseudonymised.
type Type string

// Identifier types.
const (
	Email    Type = "email"
	MemberID Type = "member_id"
	Phone    Type = "phone"
)

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Key derives pseudonyms. Keep it secret and shared by internal services.
type Key struct{ k []byte }

// NewKey wraps a secret of at least 32 bytes.
func NewKey(secret []byte) (Key, error) {
	if len(secret) < 32 {
		return Key{}, errors.New("pseudonym: key must be at least 32 bytes")
	}
	return Key{k: append([]byte(nil), secret...)}, nil
}

// Of returns "psn_" + base32(HMAC-SHA256(key, type ":" normalised value)),
// or "" for an empty value.
func (k Key) Of(t Type, value string) string {
	v := Normalise(t, value)
	if v == "" {
		return ""
	}
	m := hmac.New(sha256.New, k.k)
	m.Write([]byte(string(t) + ":" + v))
	return "psn_" + strings.ToLower(enc.EncodeToString(m.Sum(nil)[:20]))
}

// Normalise makes equal identifiers equal: NFKC (full-width to half-width),
// trimmed, e-mail lower-cased, phone numbers reduced to digits.
func Normalise(t Type, value string) string {
	v := strings.TrimSpace(norm.NFKC.String(value))
	switch t {
	case Email:
		v = strings.ToLower(v)
	case Phone:
		var b strings.Builder
		for _, r := range v {
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		v = b.String()
	case MemberID:
		v = strings.ToUpper(v)
	}
	return v
}
