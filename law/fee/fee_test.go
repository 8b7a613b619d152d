package fee

import (
	"errors"
	"testing"
	"time"

	"madoguchi.dev/law/calendar"
	"madoguchi.dev/law/kind"
)

func TestOnlyDisclosureTypeAPPIRequestsMayCarryAFee(t *testing.T) {
	want := map[kind.Kind]bool{
		kind.Disclosure:                 true,
		kind.ThirdPartyRecordDisclosure: true,
		kind.PurposeNotice:              true,
	}
	for _, k := range kind.All() {
		if got := MayCharge(k); got != want[k] {
			t.Errorf("MayCharge(%s) = %v, want %v", k, got, want[k])
		}
	}
}

func TestAssess(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		name      string
		k         kind.Kind
		j         kind.Jurisdiction
		excessive bool
		cfg       Config
		want      Assessment
	}{
		{"JP disclosure carries the default fee", kind.Disclosure, kind.JP, false, def, Assessment{true, 1000, ReasonAPPIDisclosure}},
		{"JP third-party record disclosure carries the fee", kind.ThirdPartyRecordDisclosure, kind.JP, false, def, Assessment{true, 1000, ReasonAPPIDisclosure}},
		{"JP purpose notice carries the fee", kind.PurposeNotice, kind.JP, false, def, Assessment{true, 1000, ReasonAPPIDisclosure}},
		{"JP disclosure carries a configured fee", kind.Disclosure, kind.JP, false, Config{DisclosureFeeJPY: 500}, Assessment{true, 500, ReasonAPPIDisclosure}},
		{"JP disclosure is free when the fee is configured as 0", kind.Disclosure, kind.JP, false, Config{}, Assessment{false, 0, ReasonAPPINoFeeConfigured}},
		{"JP correction is always free", kind.Correction, kind.JP, false, def, Assessment{false, 0, ReasonFreeKind}},
		{"JP erasure is always free", kind.Erasure, kind.JP, false, def, Assessment{false, 0, ReasonFreeKind}},
		{"JP ignores manifestly excessive (no such APPI rule)", kind.Deletion, kind.JP, true, def, Assessment{false, 0, ReasonFreeKind}},
		{"GDPR access is free", kind.Disclosure, kind.GDPR, false, def, Assessment{false, 0, ReasonGDPRFree}},
		{"GDPR erasure is free", kind.Erasure, kind.GDPR, false, def, Assessment{false, 0, ReasonGDPRFree}},
		{"GDPR manifestly excessive carries the configured fee", kind.Disclosure, kind.GDPR, true, Config{GDPRExcessiveFeeJPY: 2500}, Assessment{true, 2500, ReasonGDPRManifestlyExcessive}},
		{"GDPR manifestly excessive with no fee set stays free", kind.Disclosure, kind.GDPR, true, Config{}, Assessment{false, 0, ReasonGDPRFree}},
		{"CCPA know is free", kind.Disclosure, kind.CCPA, false, def, Assessment{false, 0, ReasonCCPAFree}},
		{"CCPA is free even if marked excessive", kind.Deletion, kind.CCPA, true, def, Assessment{false, 0, ReasonCCPAFree}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Assess(tt.k, tt.j, tt.excessive, tt.cfg)
			if err != nil || got != tt.want {
				t.Fatalf("Assess = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestEveryNonFeeKindIsFreeUnderAPPIWhateverTheConfig(t *testing.T) {
	cfg := Config{DisclosureFeeJPY: 99999, GDPRExcessiveFeeJPY: 99999}
	for _, k := range kind.All() {
		if MayCharge(k) {
			continue
		}
		for _, excessive := range []bool{false, true} {
			a, err := Assess(k, kind.JP, excessive, cfg)
			if err != nil || a.Required || a.AmountJPY != 0 {
				t.Errorf("%s: %+v, %v", k, a, err)
			}
		}
	}
}

func TestAssessRejectsInvalidInputRatherThanGuessingAFee(t *testing.T) {
	tests := []struct {
		name string
		k    kind.Kind
		j    kind.Jurisdiction
		cfg  Config
		err  error
	}{
		{"unknown kind", "bogus", kind.JP, DefaultConfig(), kind.ErrUnknownKind},
		{"unknown jurisdiction", kind.Disclosure, "UK", DefaultConfig(), kind.ErrUnknownJurisdiction},
		{"negative disclosure fee", kind.Disclosure, kind.JP, Config{DisclosureFeeJPY: -1}, ErrInvalidConfig},
		{"negative GDPR fee", kind.Disclosure, kind.GDPR, Config{GDPRExcessiveFeeJPY: -1}, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Assess(tt.k, tt.j, true, tt.cfg)
			if !errors.Is(err, tt.err) || a != (Assessment{}) {
				t.Fatalf("Assess = %+v, %v; want %v", a, err, tt.err)
			}
		})
	}
}

func TestPaymentWindow(t *testing.T) {
	jst := calendar.Location()
	tests := []struct {
		name           string
		p              PaymentPolicy
		requested      time.Time
		due, remindAt  time.Time
		expiredAtDue   bool
		expiredJustAft bool
	}{
		{"default: end of the 14th day after the request, reminder 3 days before",
			PaymentPolicy{}, time.Date(2025, 6, 2, 10, 0, 0, 0, jst),
			calendar.D(2025, 6, 16).End(), calendar.D(2025, 6, 13).End(), false, true},
		{"request day judged in JST",
			PaymentPolicy{}, time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC),
			calendar.D(2025, 6, 16).End(), calendar.D(2025, 6, 13).End(), false, true},
		{"configured 7 days with a 1-day reminder",
			PaymentPolicy{WindowDays: 7, ReminderDaysBefore: 1}, time.Date(2025, 12, 28, 10, 0, 0, 0, jst),
			calendar.D(2026, 1, 4).End(), calendar.D(2026, 1, 3).End(), false, true},
		{"reminder longer than the window is clamped to the request",
			PaymentPolicy{WindowDays: 2, ReminderDaysBefore: 5}, time.Date(2025, 6, 2, 10, 0, 0, 0, jst),
			calendar.D(2025, 6, 4).End(), time.Date(2025, 6, 2, 10, 0, 0, 0, jst), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.p.Window(tt.requested)
			if !w.Due.Equal(tt.due) || !w.RemindAt.Equal(tt.remindAt) || !w.RequestedAt.Equal(tt.requested) {
				t.Fatalf("Window = %+v; want due %v, remind %v", w, tt.due, tt.remindAt)
			}
			if w.Expired(w.Due) != tt.expiredAtDue || w.Expired(w.Due.Add(time.Nanosecond)) != tt.expiredJustAft {
				t.Fatalf("Expired boundary wrong around %v", w.Due)
			}
		})
	}
}
