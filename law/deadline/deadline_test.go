package deadline

import (
	"errors"
	"testing"
	"time"

	"madoguchi.dev/law/calendar"
	"madoguchi.dev/law/kind"
)

var (
	jst = calendar.Location()
	pst = time.FixedZone("PST", -8*60*60)
)

func jstAt(y int, m time.Month, d, hh int) time.Time { return time.Date(y, m, d, hh, 0, 0, 0, jst) }

// endJST is the last instant of y-m-d in JST.
func endJST(y int, m time.Month, d int) time.Time { return calendar.D(y, m, d).End() }

func endIn(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
}

func mustDue(t *testing.T, p Policy, j kind.Jurisdiction, at time.Time) Deadlines {
	t.Helper()
	d, err := p.Due(j, at)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestJPTargetIsTenBusinessDaysButNeverPastTheArt39TwoWeeks(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		received time.Time
		want     time.Time
	}{
		{"Monday receipt: ten business days end exactly at two weeks", Policy{}, jstAt(2025, 6, 2, 10), endJST(2025, 6, 16)},
		{"Saturday receipt: ten business days fall inside two weeks", Policy{}, jstAt(2025, 6, 7, 10), endJST(2025, 6, 20)},
		{"Golden Week would push past two weeks: pulled back to the Art. 39 day", Policy{}, jstAt(2025, 4, 25, 10), endJST(2025, 5, 9)},
		{"Art. 39 day is a Sunday: pulled back to the Friday before", Policy{}, jstAt(2025, 4, 27, 10), endJST(2025, 5, 9)},
		{"year-end closure would push past two weeks", Policy{}, jstAt(2025, 12, 24, 10), endJST(2026, 1, 7)},
		{"shorter configured target", Policy{JPTargetBusinessDays: 5}, jstAt(2025, 6, 2, 10), endJST(2025, 6, 9)},
		{"receipt judged by JST date: Sunday 20:00 UTC is Monday in Tokyo", Policy{JPTargetBusinessDays: 1}, time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC), endJST(2025, 6, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDue(t, tt.policy, kind.JP, tt.received)
			if !d.AnswerDue.Equal(tt.want) {
				t.Fatalf("AnswerDue = %v, want %v", d.AnswerDue, tt.want)
			}
			if d.AnswerDue.After(d.Art39PeriodEnd) {
				t.Fatalf("AnswerDue %v is after the Art. 39 point %v", d.AnswerDue, d.Art39PeriodEnd)
			}
		})
	}
}

func TestJPDeadlinesDescribeAnInternalTargetWithOneStaffExtension(t *testing.T) {
	received := jstAt(2025, 6, 2, 10)
	d := mustDue(t, Policy{}, kind.JP, received)
	checks := []struct {
		name string
		ok   bool
	}{
		{"jurisdiction and receipt are recorded", d.Jurisdiction == kind.JP && d.ReceivedAt.Equal(received)},
		{"target is internal, not statutory", d.InternalTarget},
		{"Art. 39 point is the end of receipt day + 14", d.Art39PeriodEnd.Equal(endJST(2025, 6, 16))},
		{"no CCPA confirmation", d.ConfirmationDue.IsZero()},
		{"extension is possible", d.ExtensionPossible && !d.Extended},
		{"extension must be made before the target passes", d.ExtensionNoticeBy.Equal(d.AnswerDue)},
		{"max extension is ten more business days", d.MaxDue.Equal(endJST(2025, 6, 30))},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
	off := mustDue(t, Policy{DisableJPExtension: true}, kind.JP, received)
	if off.ExtensionPossible || !off.MaxDue.Equal(off.AnswerDue) || !off.ExtensionNoticeBy.IsZero() {
		t.Errorf("disabled extension still offered: %+v", off)
	}
}

func TestJPTargetFallsBackToTheArt39PointWhenTwoWeeksHoldNoBusinessDay(t *testing.T) {
	var closed []calendar.Date
	for d := calendar.D(2025, 6, 3); d.Compare(calendar.D(2025, 6, 20)) <= 0; d = d.AddDays(1) {
		closed = append(closed, d)
	}
	c, err := calendar.New(calendar.Config{ExtraHolidays: closed})
	if err != nil {
		t.Fatal(err)
	}
	d := mustDue(t, Policy{Calendar: c}, kind.JP, jstAt(2025, 6, 2, 10))
	if !d.AnswerDue.Equal(d.Art39PeriodEnd) {
		t.Fatalf("AnswerDue = %v, want the Art. 39 point %v", d.AnswerDue, d.Art39PeriodEnd)
	}
}

func TestJPTargetInvariantsHoldForEveryReceiptDayIn2025And2026(t *testing.T) {
	p := Policy{}
	c := calendar.Default()
	for day := calendar.D(2025, 1, 1); day.Year < 2027; day = day.AddDays(1) {
		received := day.Start().Add(15 * time.Hour)
		d := mustDue(t, p, kind.JP, received)
		if !d.AnswerDue.After(received) || d.AnswerDue.After(d.Art39PeriodEnd) {
			t.Fatalf("%v: AnswerDue %v outside (receipt, Art. 39 point %v]", day, d.AnswerDue, d.Art39PeriodEnd)
		}
		if !c.IsBusinessDay(d.AnswerDue) || !d.AnswerDue.Equal(calendar.EndOfDay(d.AnswerDue)) {
			t.Fatalf("%v: AnswerDue %v is not the end of a business day", day, d.AnswerDue)
		}
		if n := c.BusinessDaysBetween(received, d.AnswerDue); n > DefaultJPTargetBusinessDays {
			t.Fatalf("%v: %d business days, more than the target", day, n)
		}
	}
}

func TestGDPRAnswerIsDueOneMonthLater(t *testing.T) {
	tests := []struct {
		name      string
		policy    Policy
		received  time.Time
		want, max time.Time
	}{
		{"mid-month: same date next month", Policy{}, jstAt(2025, 1, 15, 10), endJST(2025, 2, 15), endJST(2025, 4, 15)},
		{"Jan 31: last day of February", Policy{}, jstAt(2025, 1, 31, 10), endJST(2025, 2, 28), endJST(2025, 4, 28)},
		{"Jan 31 in a leap year: Feb 29", Policy{}, jstAt(2024, 1, 31, 10), endJST(2024, 2, 29), endJST(2024, 4, 29)},
		{"Mar 31: Apr 30", Policy{}, jstAt(2025, 3, 31, 10), endJST(2025, 4, 30), endJST(2025, 6, 30)},
		{"December: into next year", Policy{}, jstAt(2025, 12, 15, 10), endJST(2026, 1, 15), endJST(2026, 3, 15)},
		{"weekends and holidays do not matter", Policy{}, jstAt(2025, 4, 5, 10), endJST(2025, 5, 5), endJST(2025, 7, 5)},
		{"counted in the configured zone", Policy{GDPRLocation: time.UTC}, time.Date(2025, 1, 31, 23, 30, 0, 0, time.UTC), endIn(2025, 2, 28, time.UTC), endIn(2025, 4, 28, time.UTC)},
		{"same instant in JST is already Feb 1", Policy{}, time.Date(2025, 1, 31, 23, 30, 0, 0, time.UTC), endJST(2025, 3, 1), endJST(2025, 5, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDue(t, tt.policy, kind.GDPR, tt.received)
			if !d.AnswerDue.Equal(tt.want) {
				t.Errorf("AnswerDue = %v, want %v", d.AnswerDue, tt.want)
			}
			if !d.MaxDue.Equal(tt.max) {
				t.Errorf("MaxDue = %v, want %v", d.MaxDue, tt.max)
			}
			if d.InternalTarget || !d.ConfirmationDue.IsZero() || !d.Art39PeriodEnd.IsZero() {
				t.Errorf("JP/CCPA-only fields set: %+v", d)
			}
			if !d.ExtensionPossible || !d.ExtensionNoticeBy.Equal(d.AnswerDue) {
				t.Errorf("extension notice must be possible within the first month: %+v", d)
			}
		})
	}
}

func TestCCPAAnswerIsDueOnThe45thDayCountingTheReceiptDay(t *testing.T) {
	tests := []struct {
		name                    string
		policy                  Policy
		received                time.Time
		answer, confirm, maxDue time.Time
	}{
		{"Friday receipt", Policy{}, jstAt(2025, 1, 10, 10), endJST(2025, 2, 23), endJST(2025, 1, 24), endJST(2025, 4, 9)},
		{"Saturday receipt: confirmation counts weekdays only", Policy{}, jstAt(2025, 6, 7, 10), endJST(2025, 7, 21), endJST(2025, 6, 20), endJST(2025, 9, 4)},
		{"US federal holiday is not skipped (conservative)", Policy{}, jstAt(2025, 6, 27, 10), endJST(2025, 8, 10), endJST(2025, 7, 11), endJST(2025, 9, 24)},
		{"counted in the configured US zone", Policy{CCPALocation: pst}, time.Date(2025, 1, 10, 20, 0, 0, 0, pst), endIn(2025, 2, 23, pst), endIn(2025, 1, 24, pst), endIn(2025, 4, 9, pst)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDue(t, tt.policy, kind.CCPA, tt.received)
			if !d.AnswerDue.Equal(tt.answer) {
				t.Errorf("AnswerDue = %v, want %v", d.AnswerDue, tt.answer)
			}
			if !d.ConfirmationDue.Equal(tt.confirm) {
				t.Errorf("ConfirmationDue = %v, want %v", d.ConfirmationDue, tt.confirm)
			}
			if !d.MaxDue.Equal(tt.maxDue) {
				t.Errorf("MaxDue = %v, want %v", d.MaxDue, tt.maxDue)
			}
			ry, rm, rd := tt.received.In(d.MaxDue.Location()).Date()
			my, mm, md := d.MaxDue.Date()
			if days := time.Date(my, mm, md, 0, 0, 0, 0, time.UTC).Sub(time.Date(ry, rm, rd, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour); days != 89 {
				t.Errorf("MaxDue is receipt day + %d; the 90th day counting the receipt day is + 89", days)
			}
			if !d.ExtensionPossible || !d.ExtensionNoticeBy.Equal(d.AnswerDue) {
				t.Errorf("extension notice must be possible within the first 45 days: %+v", d)
			}
		})
	}
}

func TestCCPAOptOutIsDueOnThe15thBusinessDayAndCannotBeExtended(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		received time.Time
		answer   time.Time
	}{
		{"Friday receipt: three weeks of weekdays", Policy{}, jstAt(2025, 1, 10, 10), endJST(2025, 1, 31)},
		{"Saturday receipt counts from Monday", Policy{}, jstAt(2025, 6, 7, 10), endJST(2025, 6, 27)},
		{"US federal holiday (4 July) is not skipped (conservative)", Policy{}, jstAt(2025, 6, 27, 10), endJST(2025, 7, 18)},
		{"counted in the configured US zone", Policy{CCPALocation: pst}, time.Date(2025, 1, 10, 20, 0, 0, 0, pst), endIn(2025, 1, 31, pst)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.policy.DueFor(kind.CCPA, kind.ThirdPartyStop, tt.received)
			if err != nil {
				t.Fatal(err)
			}
			if !d.AnswerDue.Equal(tt.answer) || !d.MaxDue.Equal(tt.answer) {
				t.Errorf("AnswerDue = %v, MaxDue = %v; want both %v", d.AnswerDue, d.MaxDue, tt.answer)
			}
			if d.ExtensionPossible || !d.ConfirmationDue.IsZero() {
				t.Errorf("opt-out must be neither extendable nor need a receipt confirmation: %+v", d)
			}
			if _, err := tt.policy.Extend(kind.CCPA, d, tt.received, "busy"); !errors.Is(err, ErrExtensionNotAllowed) {
				t.Errorf("Extend = %v; want ErrExtensionNotAllowed", err)
			}
		})
	}
	// Other CCPA kinds, and third-party stops elsewhere, keep their law's period.
	for _, c := range []struct {
		j kind.Jurisdiction
		k kind.Kind
	}{{kind.CCPA, kind.Deletion}, {kind.CCPA, kind.Disclosure}, {kind.JP, kind.ThirdPartyStop}, {kind.GDPR, kind.ThirdPartyStop}} {
		got, err := (Policy{}).DueFor(c.j, c.k, jstAt(2025, 1, 10, 10))
		want := mustDue(t, Policy{}, c.j, jstAt(2025, 1, 10, 10))
		if err != nil || !got.AnswerDue.Equal(want.AnswerDue) || got.ExtensionPossible != want.ExtensionPossible {
			t.Errorf("DueFor(%s, %s) = %v (%v); want Due's %v", c.j, c.k, got.AnswerDue, err, want.AnswerDue)
		}
	}
}

func TestDueRejectsAnUnknownJurisdiction(t *testing.T) {
	if _, err := (Policy{}).Due("UK", jstAt(2025, 6, 2, 10)); !errors.Is(err, ErrUnknownJurisdiction) {
		t.Fatalf("err = %v", err)
	}
}

func TestExtendGrantsOneExtensionToMaxDue(t *testing.T) {
	p := Policy{}
	tests := []struct {
		name     string
		j        kind.Jurisdiction
		received time.Time
		want     time.Time
	}{
		{"JP: ten more business days", kind.JP, jstAt(2025, 6, 2, 10), endJST(2025, 6, 30)},
		{"GDPR: two further months", kind.GDPR, jstAt(2025, 1, 15, 10), endJST(2025, 4, 15)},
		{"CCPA: 45 more days", kind.CCPA, jstAt(2025, 1, 10, 10), endJST(2025, 4, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDue(t, p, tt.j, tt.received)
			at := tt.received.Add(48 * time.Hour)
			got, err := p.Extend(tt.j, d, at, "  searching archived systems  ")
			if err != nil {
				t.Fatal(err)
			}
			if !got.AnswerDue.Equal(tt.want) || !got.MaxDue.Equal(tt.want) {
				t.Errorf("AnswerDue = %v, MaxDue = %v; want %v", got.AnswerDue, got.MaxDue, tt.want)
			}
			if !got.Extended || got.ExtensionPossible || !got.OriginalDue.Equal(d.AnswerDue) || !got.ExtendedAt.Equal(at) {
				t.Errorf("extension not recorded: %+v", got)
			}
			if got.ExtensionReason != "searching archived systems" {
				t.Errorf("reason = %q, want it trimmed", got.ExtensionReason)
			}
			if !got.ReceivedAt.Equal(d.ReceivedAt) || !got.ConfirmationDue.Equal(d.ConfirmationDue) {
				t.Errorf("unrelated fields changed")
			}
		})
	}
}

func TestExtendRefusesWhatTheLawOrPolicyDoesNotAllow(t *testing.T) {
	p := Policy{}
	gdpr := mustDue(t, p, kind.GDPR, jstAt(2025, 1, 15, 10))
	extended, err := p.Extend(kind.GDPR, gdpr, jstAt(2025, 1, 20, 10), "complex request")
	if err != nil {
		t.Fatal(err)
	}
	jpOff := Policy{DisableJPExtension: true}
	jp := mustDue(t, jpOff, kind.JP, jstAt(2025, 6, 2, 10))
	tests := []struct {
		name   string
		policy Policy
		j      kind.Jurisdiction
		d      Deadlines
		at     time.Time
		reason string
		err    error
	}{
		{"second extension", p, kind.GDPR, extended, jstAt(2025, 1, 21, 10), "again", ErrAlreadyExtended},
		{"empty reason", p, kind.GDPR, gdpr, jstAt(2025, 1, 20, 10), "", ErrNoReason},
		{"blank reason", p, kind.GDPR, gdpr, jstAt(2025, 1, 20, 10), " \t　", ErrNoReason},
		{"one nanosecond after the notice window", p, kind.GDPR, gdpr, gdpr.ExtensionNoticeBy.Add(time.Nanosecond), "late", ErrNoticeWindowClosed},
		{"requested before receipt", p, kind.GDPR, gdpr, jstAt(2025, 1, 14, 10), "early", ErrBeforeReceipt},
		{"JP extension disabled by policy", jpOff, kind.JP, jp, jstAt(2025, 6, 3, 10), "busy", ErrExtensionNotAllowed},
		{"JP extension disabled after the deadlines were computed", jpOff, kind.JP, mustDue(t, p, kind.JP, jstAt(2025, 6, 2, 10)), jstAt(2025, 6, 3, 10), "busy", ErrExtensionNotAllowed},
		{"jurisdiction differs from the deadlines", p, kind.CCPA, gdpr, jstAt(2025, 1, 20, 10), "x", ErrJurisdictionMismatch},
		{"unknown jurisdiction", p, "UK", gdpr, jstAt(2025, 1, 20, 10), "x", ErrUnknownJurisdiction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.policy.Extend(tt.j, tt.d, tt.at, tt.reason)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.d {
				t.Fatalf("a refused extension changed the deadlines")
			}
		})
	}
}

func TestExtendIsAllowedAtTheLastInstantOfTheNoticeWindow(t *testing.T) {
	p := Policy{}
	for _, j := range kind.Jurisdictions() {
		d := mustDue(t, p, j, jstAt(2025, 6, 2, 10))
		if _, err := p.Extend(j, d, d.ExtensionNoticeBy, "needs more time"); err != nil {
			t.Errorf("%s: %v", j, err)
		}
	}
}

func TestWarnAt(t *testing.T) {
	def := Policy{}
	tests := []struct {
		name     string
		policy   Policy
		j        kind.Jurisdiction
		received time.Time
		want     time.Time
	}{
		{"JP: two business days left", def, kind.JP, jstAt(2025, 6, 2, 10), endJST(2025, 6, 12)},
		{"JP: counted back over a weekend", Policy{JPTargetBusinessDays: 5}, kind.JP, jstAt(2025, 6, 3, 10), endJST(2025, 6, 6)},
		{"JP: configurable to one business day", Policy{JPWarnBusinessDays: 1}, kind.JP, jstAt(2025, 6, 2, 10), endJST(2025, 6, 13)},
		{"JP: never before receipt", Policy{JPTargetBusinessDays: 1}, kind.JP, jstAt(2025, 6, 2, 10), jstAt(2025, 6, 2, 10)},
		{"GDPR: five calendar days before", def, kind.GDPR, jstAt(2025, 1, 15, 10), endJST(2025, 2, 10)},
		{"GDPR: configurable", Policy{WarnDaysBefore: 10}, kind.GDPR, jstAt(2025, 1, 15, 10), endJST(2025, 2, 5)},
		{"CCPA: five calendar days before", def, kind.CCPA, jstAt(2025, 1, 10, 10), endJST(2025, 2, 18)},
		{"CCPA: in the configured zone", Policy{CCPALocation: pst}, kind.CCPA, time.Date(2025, 1, 10, 10, 0, 0, 0, pst), endIn(2025, 2, 18, pst)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDue(t, tt.policy, tt.j, tt.received)
			if got := tt.policy.WarnAt(d); !got.Equal(tt.want) {
				t.Fatalf("WarnAt = %v, want %v (due %v)", got, tt.want, d.AnswerDue)
			}
		})
	}
}

func TestWarnAtFollowsAnExtensionAndIsZeroWithoutADeadline(t *testing.T) {
	p := Policy{}
	d := mustDue(t, p, kind.GDPR, jstAt(2025, 1, 15, 10))
	ext, err := p.Extend(kind.GDPR, d, jstAt(2025, 1, 16, 10), "complex")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.WarnAt(ext), endJST(2025, 4, 10); !got.Equal(want) {
		t.Errorf("WarnAt after extension = %v, want %v", got, want)
	}
	if !p.WarnAt(Deadlines{}).IsZero() {
		t.Error("WarnAt of empty deadlines is not zero")
	}
}
