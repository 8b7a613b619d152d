package verification

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 2, 10, 0, 0, 0, time.FixedZone("JST", 9*3600))

func issued(t *testing.T, p Policy, code string) State {
	t.Helper()
	s, err := NewState(p).Issue(HashCode(code), t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDefaultPolicy(t *testing.T) {
	want := Policy{CodeTTL: 24 * time.Hour, MaxAttempts: 5, MaxResends: 3, ReminderBefore: 6 * time.Hour, CodeLength: 6}
	if got := DefaultPolicy(); got != want {
		t.Fatalf("DefaultPolicy = %+v, want %+v", got, want)
	}
}

func TestValidCodeFormat(t *testing.T) {
	tests := []struct {
		name string
		code string
		want bool
	}{
		{"six ASCII digits", "012345", true},
		{"surrounding spaces are trimmed", "  012345 ", true},
		{"surrounding ideographic spaces are trimmed", "　012345　", true},
		{"full-width digits are accepted", "０１２３４５", true},
		{"mixed full-width and ASCII digits", "01２３45", true},
		{"five digits", "01234", false},
		{"seven digits", "0123456", false},
		{"inner space", "012 345", false},
		{"hyphen", "012-345", false},
		{"letters", "01234a", false},
		{"other Unicode digits", "٠١٢٣٤٥", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidCodeFormat(tt.code); got != tt.want {
				t.Fatalf("ValidCodeFormat(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
	if !(Policy{CodeLength: 8}).ValidCodeFormat("01234567") || (Policy{CodeLength: 8}).ValidCodeFormat("012345") {
		t.Error("configured CodeLength is not honoured")
	}
}

func TestHashCodeIsSHA256OfTheNormalisedCode(t *testing.T) {
	want := sha256.Sum256([]byte("012345"))
	for _, in := range []string{"012345", " 012345\n", "０１２３４５"} {
		if got := HashCode(in); !bytes.Equal(got, want[:]) {
			t.Errorf("HashCode(%q) differs from SHA-256 of the ASCII code", in)
		}
	}
	if bytes.Equal(HashCode("012345"), HashCode("012346")) {
		t.Error("different codes hash the same")
	}
}

func TestIssueStartsACodeThatExpiresAfterTheTTL(t *testing.T) {
	h := HashCode("123456")
	s, err := NewState(Policy{}).Issue(h, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !s.IssuedAt.Equal(t0) || !s.ExpiresAt.Equal(t0.Add(24*time.Hour)) || s.Resends != 0 || s.Attempts != 0 {
		t.Fatalf("unexpected state %+v", s)
	}
	if !bytes.Equal(s.CodeHash, h) {
		t.Fatal("hash not stored")
	}
	h[0] ^= 0xff
	if bytes.Equal(s.CodeHash, h) {
		t.Fatal("state shares the caller's hash slice")
	}
	if s2, _ := NewState(Policy{CodeTTL: time.Hour}).Issue(HashCode("123456"), t0); !s2.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatal("configured TTL not honoured")
	}
}

func TestIssueAllowsOnlyMaxResendsAfterTheFirstCode(t *testing.T) {
	s := NewState(Policy{})
	var err error
	for i := 0; i <= 3; i++ {
		if s, err = s.Issue(HashCode("123456"), t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
		if s.Resends != i || s.ResendsLeft() != 3-i {
			t.Fatalf("after issue %d: Resends = %d, ResendsLeft = %d", i, s.Resends, s.ResendsLeft())
		}
	}
	if _, err := s.Issue(HashCode("123456"), t0.Add(5*time.Hour)); !errors.Is(err, ErrTooManyResends) {
		t.Fatalf("fifth code: err = %v, want ErrTooManyResends", err)
	}
}

func TestIssueRefusals(t *testing.T) {
	verified, _ := issued(t, Policy{}, "123456").Check("123456", t0)
	tests := []struct {
		name string
		s    State
		hash []byte
		err  error
	}{
		{"already verified", verified, HashCode("654321"), ErrAlreadyVerified},
		{"hash of the wrong length", NewState(Policy{}), []byte("123456"), ErrBadHash},
		{"nil hash", NewState(Policy{}), nil, ErrBadHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Issue(tt.hash, t0)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got.IssuedAt != tt.s.IssuedAt || got.Resends != tt.s.Resends {
				t.Fatal("refused Issue changed the state")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	live := issued(t, Policy{}, "123456")
	locked := live
	for i := 0; i < 5; i++ {
		locked, _ = locked.Check("000000", t0)
	}
	verified, _ := live.Check("123456", t0)
	tests := []struct {
		name      string
		s         State
		code      string
		now       time.Time
		want      Outcome
		attempts  int
		nowLocked bool
		nowValid  bool
	}{
		{"right code", live, "123456", t0.Add(time.Minute), Outcome{Verified, 0}, 0, false, true},
		{"right code typed full-width with spaces", live, " １２３４５６ ", t0.Add(time.Minute), Outcome{Verified, 0}, 0, false, true},
		{"right code one nanosecond before expiry", live, "123456", live.ExpiresAt.Add(-time.Nanosecond), Outcome{Verified, 0}, 0, false, true},
		{"right code at expiry", live, "123456", live.ExpiresAt, Outcome{Expired, 0}, 0, false, false},
		{"wrong code", live, "654321", t0.Add(time.Minute), Outcome{Wrong, 4}, 1, false, false},
		{"malformed code uses no attempt", live, "12345", t0.Add(time.Minute), Outcome{Malformed, 5}, 0, false, false},
		{"expired wrong code uses no attempt", live, "654321", live.ExpiresAt, Outcome{Expired, 0}, 0, false, false},
		{"no code issued", NewState(Policy{}), "123456", t0, Outcome{NotIssued, 0}, 0, false, false},
		{"locked code rejects even the right code", locked, "123456", t0, Outcome{Locked, 0}, 5, true, false},
		{"already verified", verified, "000000", t0, Outcome{AlreadyVerified, 0}, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, out := tt.s.Check(tt.code, tt.now)
			if out != tt.want {
				t.Fatalf("outcome = %+v, want %+v", out, tt.want)
			}
			if got.Attempts != tt.attempts || got.Locked != tt.nowLocked || got.Verified != tt.nowValid {
				t.Fatalf("state = attempts %d locked %v verified %v; want %d %v %v",
					got.Attempts, got.Locked, got.Verified, tt.attempts, tt.nowLocked, tt.nowValid)
			}
		})
	}
}

func TestFifthWrongCodeLocksAndDropsTheCode(t *testing.T) {
	s := issued(t, Policy{}, "123456")
	wantLeft := []int{4, 3, 2, 1}
	for i, left := range wantLeft {
		var out Outcome
		s, out = s.Check("000000", t0)
		if out != (Outcome{Wrong, left}) {
			t.Fatalf("wrong attempt %d: %+v", i+1, out)
		}
	}
	s, out := s.Check("000000", t0)
	if out.Result != Locked || !s.Locked || s.CodeHash != nil {
		t.Fatalf("fifth wrong attempt: %+v, state %+v", out, s)
	}
	if _, ok := s.ReminderAt(); ok {
		t.Error("a locked code still gets an expiry reminder")
	}
}

func TestResendAfterLockIssuesAFreshCodeWithFreshAttempts(t *testing.T) {
	s := issued(t, Policy{MaxAttempts: 2}, "123456")
	s, _ = s.Check("000000", t0)
	s, _ = s.Check("000000", t0)
	if !s.Locked {
		t.Fatal("not locked after MaxAttempts")
	}
	s, err := s.Issue(HashCode("777777"), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if s.Locked || s.Attempts != 0 || s.Resends != 1 {
		t.Fatalf("resend did not start fresh: %+v", s)
	}
	if _, out := s.Check("123456", t0.Add(time.Hour)); out.Result != Wrong {
		t.Fatalf("old code after resend: %+v, want Wrong", out)
	}
	if s2, out := s.Check("777777", t0.Add(time.Hour)); out.Result != Verified || !s2.Verified || s2.CodeHash != nil {
		t.Fatalf("new code: %+v", out)
	}
}

func TestCheckDoesNotModifyTheReceiver(t *testing.T) {
	s := issued(t, Policy{}, "123456")
	before := s
	hash := bytes.Clone(s.CodeHash)
	s.Check("000000", t0)
	s.Check("123456", t0)
	if s.Attempts != before.Attempts || s.Verified || !bytes.Equal(s.CodeHash, hash) {
		t.Fatal("Check modified its receiver")
	}
}

func TestReminderAt(t *testing.T) {
	tests := []struct {
		name   string
		s      State
		want   time.Time
		wantOK bool
	}{
		{"six hours before expiry by default", issued(t, Policy{}, "123456"), t0.Add(18 * time.Hour), true},
		{"configurable", issued(t, Policy{ReminderBefore: time.Hour}, "123456"), t0.Add(23 * time.Hour), true},
		{"reminder at or before issue is skipped", issued(t, Policy{CodeTTL: 6 * time.Hour}, "123456"), time.Time{}, false},
		{"no code, no reminder", NewState(Policy{}), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.ReminderAt()
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Fatalf("ReminderAt = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	v, _ := issued(t, Policy{}, "123456").Check("123456", t0)
	if _, ok := v.ReminderAt(); ok || v.ResendsLeft() != 0 {
		t.Error("a verified state still offers a reminder or resends")
	}
}

func TestNeedsStaffReview(t *testing.T) {
	tests := []struct {
		name         string
		agent, match bool
		want         bool
	}{
		{"person, details match: code alone suffices", false, true, false},
		{"person, details differ", false, false, true},
		{"agent, details match: agent's authority needs a person", true, true, true},
		{"agent, details differ", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsStaffReview(tt.agent, tt.match); got != tt.want {
				t.Fatalf("NeedsStaffReview(%v, %v) = %v, want %v", tt.agent, tt.match, got, tt.want)
			}
		})
	}
}

// A keyed digest is compared as it is given: the state never derives it
// from the code, so a digest only the worker can compute is what counts.
func TestCheckDigestComparesTheGivenDigestNotTheCodesHash(t *testing.T) {
	keyed := sha256.Sum256([]byte("worker-only MAC of 123456"))
	s, err := NewState(DefaultPolicy()).Issue(keyed[:], t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, out := s.Check("123456", t0.Add(time.Minute)); out.Result != Wrong {
		t.Errorf("the code's plain SHA-256 checked as %v; want wrong", out.Result)
	}
	if next, out := s.CheckDigest("123456", keyed[:], t0.Add(time.Minute)); out.Result != Verified || !next.Verified || next.CodeHash != nil {
		t.Errorf("the issued digest checked as %v; want verified, with the digest dropped", out.Result)
	}
	other := sha256.Sum256([]byte("another"))
	if _, out := s.CheckDigest("123456", other[:], t0.Add(time.Minute)); out.Result != Wrong || out.AttemptsLeft != 4 {
		t.Errorf("another digest checked as %v (%d left); want wrong, 4 left", out.Result, out.AttemptsLeft)
	}
}

func TestADigestIsWorthComputingOnlyForAWellFormedCodeWhileOneIsLive(t *testing.T) {
	s := issued(t, DefaultPolicy(), "123456")
	for _, tc := range []struct {
		name  string
		state State
		code  string
		at    time.Time
		want  bool
	}{
		{"well-formed, live", s, "１２３４５６", t0.Add(time.Minute), true},
		{"malformed", s, "12ab", t0.Add(time.Minute), false},
		{"expired", s, "123456", t0.Add(25 * time.Hour), false},
		{"not issued", NewState(DefaultPolicy()), "123456", t0, false},
		{"verified", State{Verified: true}, "123456", t0, false},
	} {
		if got := tc.state.Comparable(tc.code, tc.at); got != tc.want {
			t.Errorf("%s: Comparable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
