// Package hmacsig is the signature scheme of Madoguchi's HTTP callbacks
// with outside systems (payment notifications, webhook holders): an
// HMAC-SHA256, under a secret shared with one system, over the time of
// sending and the exact body, so that a captured request cannot be
// altered, and cannot be replayed once the tolerance has passed (within it,
// the receiver's idempotency key absorbs a replay).
//
// Headers:
//
//	Madoguchi-Timestamp: 1733500000            (Unix seconds)
//	Madoguchi-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Several v1= values, comma-separated, let a sender sign with an old and a
// new secret while the receiver rotates.
package hmacsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderTimestamp = "Madoguchi-Timestamp"
	HeaderSignature = "Madoguchi-Signature"
)

// Tolerance is how far a request's timestamp may be from the receiver's
// clock.
const Tolerance = 5 * time.Minute

// MinSecretLen is the shortest secret accepted (256 bits).
const MinSecretLen = 32

// Errors a receiver answers 401 to; none says which part was wrong beyond
// what the sender already knows.
var (
	ErrMissing = errors.New("hmacsig: the request is not signed")
	ErrStale   = errors.New("hmacsig: the request's timestamp is outside the tolerance")
	ErrBad     = errors.New("hmacsig: the signature does not match")
)

// Mac is the hex signature of body sent at ts.
func Mac(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign sets the signature headers on h for body, sent now.
func Sign(h http.Header, secret, body []byte, now time.Time) {
	ts := now.Unix()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, "v1="+Mac(secret, ts, body))
}

// Verify checks h's signature of body against any of secrets at now.
func Verify(h http.Header, body []byte, now time.Time, secrets ...[]byte) error {
	tsText, sigText := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsText == "" || sigText == "" {
		return ErrMissing
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrMissing
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return ErrStale
	}
	for _, part := range strings.Split(sigText, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(v)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			want, _ := hex.DecodeString(Mac(s, ts, body))
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrBad
}

// ParseSecrets reads "name=secret,name2=secret2" (each secret at least
// MinSecretLen bytes) into a map: the secrets of the systems a receiver
// trusts, by the name in their endpoint's path. what names the setting in
// errors; a secret never appears in one.
func ParseSecrets(what, spec string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, secret, ok := strings.Cut(item, "=")
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("%s: entry %d is not name=secret", what, len(out)+1)
		case len(secret) < MinSecretLen:
			return nil, fmt.Errorf("%s: the secret for %q is shorter than %d characters", what, name, MinSecretLen)
		}
		out[name] = append(out[name], []byte(secret)...)
	}
	return out, nil
}
