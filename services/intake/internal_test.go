package intake

import (
	"errors"
	"fmt"
	"madoguchi.dev/proto/contract"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

func TestLimiterForgetsTheLeastRecentClientBeyondItsBound(t *testing.T) {
	l := newLimiter(60, 2, 3)
	now := time.Now()
	for i := range 10 {
		l.allow(fmt.Sprintf("10.0.0.%d", i), now)
	}
	if n := l.size(); n != 3 {
		t.Fatalf("%d clients remembered, want the bound 3", n)
	}
	if ok, _ := l.allow("a", now); !ok {
		t.Fatal("first request refused")
	}
	l.allow("a", now)
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 || wait > time.Second+time.Millisecond {
		t.Errorf("third request in a burst of 2 at 1/s: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("a", now.Add(time.Second)); !ok {
		t.Error("a token did not come back after a second")
	}
}

func TestTemporalErrorsMapToWhatThePagesShow(t *testing.T) {
	if err := mapTemporalError(serviceerror.NewNotFound("workflow not found")); !errors.Is(err, ErrNotStarted) {
		t.Errorf("not found → %v", err)
	}
	var rej *RejectedError
	if err := mapTemporalError(temporal.NewApplicationError("the request has already been withdrawn", "")); !errors.As(err, &rej) ||
		rej.Reason != "the request has already been withdrawn" {
		t.Errorf("validator refusal → %v", err)
	}
	if err := mapTemporalError(errors.New("deadline exceeded")); errors.Is(err, ErrNotStarted) || errors.As(err, &rej) {
		t.Errorf("other error → %v", err)
	}
}

func TestStepsFollowTheRequestsPath(t *testing.T) {
	keys := func(ss []step) (out []string) {
		for _, s := range ss {
			mark := ""
			switch {
			case s.Current && s.Done:
				mark = "*✓"
			case s.Current:
				mark = "*"
			case s.Done:
				mark = "✓"
			}
			out = append(out, s.Key+mark)
		}
		return out
	}
	got := fmt.Sprint(keys(steps(&dsrv1.RequestStatus{Stage: "awaiting_fee", FiledByAgent: true, Fee: &dsrv1.FeeStatus{Required: true}})))
	want := "[stage.received✓ stage.verifying✓ stage.identity_review✓ stage.awaiting_fee* step.processing stage.completed]"
	if got != want {
		t.Errorf("agent disclosure awaiting fee: %s, want %s", got, want)
	}
	got = fmt.Sprint(keys(steps(&dsrv1.RequestStatus{Stage: "fan_out"})))
	if want := "[stage.received✓ stage.verifying✓ step.processing* stage.completed]"; got != want {
		t.Errorf("fan-out: %s, want %s", got, want)
	}
	got = fmt.Sprint(keys(steps(&dsrv1.RequestStatus{Stage: "completed"})))
	if want := "[stage.received✓ stage.verifying✓ step.processing✓ stage.completed*✓]"; got != want {
		t.Errorf("completed: %s, want %s", got, want)
	}
}

func TestFormatting(t *testing.T) {
	d := time.Date(2026, 12, 10, 15, 30, 0, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{formatDate("ja", d), "2026年12月11日(金)"},
		{formatDate("en", d), "Friday 11 December 2026"},
		{formatDateTime("ja", d), "2026年12月11日(金) 00:30"},
		{formatYen("ja", 1000), "1,000円"},
		{formatYen("en", 1234567), "¥1,234,567"},
		{formatYen("ja", 100), "100円"},
		{formatSize(120 * 1024), "120 KB"},
		{formatSize(3 << 19), "1.5 MB"},
		{normaliseCode(" １２３－４５６ "), "123456"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// Every stage the workflow reports has a name on the status page in both
// languages; locating (right after verification) had none.
func TestEveryStageHasANameInBothLanguages(t *testing.T) {
	for _, stage := range contract.Stages() {
		for _, locale := range []string{"ja", "en"} {
			if key := "stage." + stage; text(locale, key) == key {
				t.Errorf("stage %q has no %s name", stage, locale)
			}
		}
	}
}
