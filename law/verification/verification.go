// Package verification holds the identity-verification rules for requests
// (APPI Art. 37 lets the company prescribe how the person is identified):
// a one-time code state machine, the code format, and when a request must go
// to staff review instead.
//
// The code is made in an activity, not here, from a random secret only the
// worker can open (platform/onetime); the workflow only ever holds the
// code's digest, a keyed MAC under that secret, so neither the code nor
// anything a guess could be tested against is stored in workflow history.
// Requests recorded before that keep a SHA-256 digest (HashCode).
package verification

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"time"
)

// Defaults for the zero Policy fields.
const (
	DefaultCodeTTL        = 24 * time.Hour
	DefaultMaxAttempts    = 5
	DefaultMaxResends     = 3
	DefaultReminderBefore = 6 * time.Hour
	DefaultCodeLength     = 6
)

// Policy configures the code state machine. Zero fields take the defaults.
type Policy struct {
	CodeTTL        time.Duration // how long an issued code is valid
	MaxAttempts    int           // wrong codes allowed before the code is dead
	MaxResends     int           // new codes allowed after the first
	ReminderBefore time.Duration // remind the person this long before expiry
	CodeLength     int           // digits in a code
}

// DefaultPolicy returns the defaults: 24h, 5 attempts, 3 resends, reminder
// 6h before expiry, 6 digits.
func DefaultPolicy() Policy { return Policy{}.normalized() }

func (p Policy) normalized() Policy {
	if p.CodeTTL <= 0 {
		p.CodeTTL = DefaultCodeTTL
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxResends <= 0 {
		p.MaxResends = DefaultMaxResends
	}
	if p.ReminderBefore <= 0 {
		p.ReminderBefore = DefaultReminderBefore
	}
	if p.CodeLength <= 0 {
		p.CodeLength = DefaultCodeLength
	}
	return p
}

// NormalizeCode trims surrounding white space (including the ideographic
// space U+3000) and turns full-width digits ０-９ into ASCII, since Japanese
// users often type codes with an IME in full-width mode. Anything else is
// left as is, so it fails the format check.
func NormalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return '0' + (r - '０')
		}
		return r
	}, strings.TrimSpace(code))
}

// ValidCodeFormat reports whether code, once normalised, is exactly
// p.CodeLength ASCII digits. Inner spaces or other characters are invalid.
func (p Policy) ValidCodeFormat(code string) bool {
	n := NormalizeCode(code)
	if len(n) != p.normalized().CodeLength {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// ValidCodeFormat is Policy.ValidCodeFormat with the default 6 digits.
func ValidCodeFormat(code string) bool { return Policy{}.ValidCodeFormat(code) }

// HashCode returns the SHA-256 of the normalised code: the digest of
// requests recorded before keyed digests. A 6-digit code has only a
// million values, so this digest is reversed by anyone who reads history;
// new requests use a keyed MAC (CheckDigest) instead.
func HashCode(code string) []byte {
	sum := sha256.Sum256([]byte(NormalizeCode(code)))
	return sum[:]
}

// Result is what a Check came to. The values are stable strings for logs.
type Result string

// Check results.
const (
	Verified        Result = "verified"         // the code matched; identity confirmed
	Wrong           Result = "wrong"            // the code did not match; AttemptsLeft more tries
	Locked          Result = "locked"           // too many wrong codes: this code is dead
	Expired         Result = "expired"          // the code's TTL has passed
	AlreadyVerified Result = "already_verified" // verified earlier; nothing changes
	Malformed       Result = "malformed"        // not a code at all; no attempt is used up
	NotIssued       Result = "not_issued"       // no code has been issued yet
)

// Outcome is the result of one Check.
type Outcome struct {
	Result       Result
	AttemptsLeft int // meaningful for Wrong; 0 once Locked
}

// State is the verification state of one request. It is a value: methods
// return a new State and never modify the receiver.
type State struct {
	Policy    Policy
	CodeHash  []byte // digest of the current code; nil once verified or locked
	IssuedAt  time.Time
	ExpiresAt time.Time
	Attempts  int // wrong attempts against the current code
	Resends   int // codes issued after the first
	Locked    bool
	Verified  bool
}

// NewState returns the state before any code is issued.
func NewState(p Policy) State { return State{Policy: p} }

// Errors returned by Issue.
var (
	ErrTooManyResends  = errors.New("verification: no resends left")
	ErrAlreadyVerified = errors.New("verification: already verified")
	ErrBadHash         = errors.New("verification: code digest must be 32 bytes (SHA-256 or HMAC-SHA256)")
)

// Issue records a newly sent code (given as its hash) at now. The first
// call issues; later calls are resends, at most MaxResends of them. A new
// code resets the wrong-attempt count and lifts a lock, because the lock
// belongs to the dead code; the resend limit bounds total guesses to
// (MaxResends+1) × MaxAttempts. When resends run out the workflow should
// hand the request to staff.
func (s State) Issue(codeHash []byte, now time.Time) (State, error) {
	p := s.Policy.normalized()
	switch {
	case s.Verified:
		return s, ErrAlreadyVerified
	case len(codeHash) != sha256.Size:
		return s, ErrBadHash
	case !s.IssuedAt.IsZero() && s.Resends >= p.MaxResends:
		return s, ErrTooManyResends
	}
	next := s
	if !s.IssuedAt.IsZero() {
		next.Resends++
	}
	next.CodeHash = bytes.Clone(codeHash)
	next.IssuedAt = now
	next.ExpiresAt = now.Add(p.CodeTTL)
	next.Attempts = 0
	next.Locked = false
	return next, nil
}

// Check compares code with the issued one at now by HashCode (requests
// whose digests are SHA-256). It is CheckDigest with HashCode(code).
func (s State) Check(code string, now time.Time) (State, Outcome) {
	return s.CheckDigest(code, HashCode(code), now)
}

// Comparable reports whether a check of code at now would compare digests:
// the code is well-formed and a live code is waiting. Only then is a
// digest worth computing.
func (s State) Comparable(code string, now time.Time) bool {
	return !s.Verified && !s.Locked && len(s.CodeHash) > 0 && now.Before(s.ExpiresAt) &&
		s.Policy.normalized().ValidCodeFormat(code)
}

// CheckDigest checks code, whose digest (computed the way the issued
// code's was) is digest, at now. The code is valid while now is before
// ExpiresAt. Digests are compared in constant time. Only a well-formed
// wrong code uses up an attempt; the last allowed wrong attempt locks the
// code.
func (s State) CheckDigest(code string, digest []byte, now time.Time) (State, Outcome) {
	p := s.Policy.normalized()
	switch {
	case s.Verified:
		return s, Outcome{Result: AlreadyVerified}
	case s.Locked:
		return s, Outcome{Result: Locked}
	case len(s.CodeHash) == 0:
		return s, Outcome{Result: NotIssued}
	case !now.Before(s.ExpiresAt):
		return s, Outcome{Result: Expired}
	case !p.ValidCodeFormat(code):
		return s, Outcome{Result: Malformed, AttemptsLeft: p.MaxAttempts - s.Attempts}
	}
	next := s
	if subtle.ConstantTimeCompare(digest, s.CodeHash) == 1 {
		next.Verified = true
		next.CodeHash = nil // no longer needed; keep nothing we do not need
		return next, Outcome{Result: Verified}
	}
	next.Attempts++
	if next.Attempts >= p.MaxAttempts {
		next.Locked = true
		next.CodeHash = nil
		return next, Outcome{Result: Locked}
	}
	return next, Outcome{Result: Wrong, AttemptsLeft: p.MaxAttempts - next.Attempts}
}

// ResendsLeft is how many more codes Issue will accept.
func (s State) ResendsLeft() int {
	if s.Verified {
		return 0
	}
	p := s.Policy.normalized()
	if s.IssuedAt.IsZero() {
		return p.MaxResends
	}
	return max(p.MaxResends-s.Resends, 0)
}

// ReminderAt is when to remind the person that the code is about to
// expire: ReminderBefore before ExpiresAt. ok is false when there is nothing
// to remind about (no live code) or the reminder would come at or before
// issue.
func (s State) ReminderAt() (at time.Time, ok bool) {
	if s.Verified || s.Locked || len(s.CodeHash) == 0 {
		return time.Time{}, false
	}
	at = s.ExpiresAt.Add(-s.Policy.normalized().ReminderBefore)
	if !at.After(s.IssuedAt) {
		return time.Time{}, false
	}
	return at, true
}

// NeedsStaffReview reports whether a request must be checked by staff
// instead of relying on the code alone: every request filed by an agent
// (代理人), whose authority must be checked by a person, and every request
// whose details do not match our records.
func NeedsStaffReview(filedByAgent bool, detailsMatchRecords bool) bool {
	return filedByAgent || !detailsMatchRecords
}
