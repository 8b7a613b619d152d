// Package deadline computes when a request must be answered under each
// jurisdiction, whether and how far that may be extended, and when a
// "deadline near" warning is raised.
//
// Results are plain times the workflow stores and sets timers from. The
// workflow should store the Deadlines it got rather than recompute them on
// replay, since a calendar change would otherwise move a running timer.
package deadline

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"madoguchi.dev/law/calendar"
	"madoguchi.dev/law/kind"
)

// Defaults for the zero Policy fields.
const (
	DefaultJPTargetBusinessDays       = 10
	DefaultJPMaxExtensionBusinessDays = 10
	DefaultJPWarnBusinessDays         = 2
	DefaultWarnDaysBefore             = 5
	// art39Days: under APPI Art. 39 the person may sue once two weeks have
	// passed since the demand reached us, so the JP target never goes past it.
	art39Days = 14
	// ccpaDays counts the receipt day as day 1, because 11 CCR 7021(b) says
	// the 45-day period "will begin on the day that the business receives
	// the request": the answer is due at the end of receipt day + 44.
	ccpaDays = 45
	// ccpaConfirmBusinessDays is the receipt confirmation period, 7021(a).
	ccpaConfirmBusinessDays = 10
	// ccpaOptOutBusinessDays: an opt-out of sale/sharing is complied with as
	// soon as feasibly possible and no later than 15 business days from
	// receipt, 11 CCR 7026(f)(1); no extension, and the 7021 receipt
	// confirmation (know, delete, correct) does not apply.
	ccpaOptOutBusinessDays = 15
	gdprExtensionMonths    = 2
)

// Policy holds the deadline settings. The zero Policy is usable: zero fields
// take the defaults above, a nil Calendar is calendar.Default(), and nil
// locations are JST.
type Policy struct {
	// Calendar counts Japanese business days for JP.
	Calendar *calendar.Calendar
	// JPTargetBusinessDays turns APPI's 遅滞なく ("without delay") into an
	// internal target: the end of this many business days after receipt.
	JPTargetBusinessDays int
	// JPMaxExtensionBusinessDays caps a staff extension of the JP target.
	JPMaxExtensionBusinessDays int
	// DisableJPExtension rejects every JP extension.
	DisableJPExtension bool
	// JPWarnBusinessDays: the JP warning fires when this many business days
	// are left before the target.
	JPWarnBusinessDays int
	// WarnDaysBefore: the GDPR/CCPA warning fires this many calendar days
	// before the due day ends.
	WarnDaysBefore int
	// GDPRLocation and CCPALocation are the zones calendar days are counted
	// in. Load them once at worker start (time.LoadLocation reads tzdata);
	// nil means JST.
	GDPRLocation *time.Location
	CCPALocation *time.Location
}

// Deadlines is everything the workflow needs to time one request. All times
// are ends of days (23:59:59.999999999) in the jurisdiction's zone.
type Deadlines struct {
	Jurisdiction kind.Jurisdiction
	ReceivedAt   time.Time
	// AnswerDue is when the answer must have been sent.
	AnswerDue time.Time
	// InternalTarget is true for JP: APPI sets no date, only 遅滞なく, so
	// AnswerDue is our own target rather than a statutory limit.
	InternalTarget bool
	// Art39PeriodEnd (JP only) ends the two weeks after which the person may
	// sue (APPI Art. 39). The unextended target never goes past it.
	Art39PeriodEnd time.Time
	// ConfirmationDue (CCPA only) is when receipt must have been confirmed.
	ConfirmationDue time.Time
	// ExtensionPossible reports whether Extend can still succeed.
	ExtensionPossible bool
	// ExtensionNoticeBy is the last moment an extension (and its notice to
	// the person) may be made.
	ExtensionNoticeBy time.Time
	// MaxDue is the latest AnswerDue an extension can reach; equal to
	// AnswerDue when no extension is possible.
	MaxDue time.Time
	// Extension record; zero until Extend succeeds.
	Extended        bool
	OriginalDue     time.Time
	ExtendedAt      time.Time
	ExtensionReason string
}

// Errors returned (wrapped) by Due and Extend.
var (
	ErrUnknownJurisdiction  = errors.New("deadline: unknown jurisdiction")
	ErrJurisdictionMismatch = errors.New("deadline: jurisdiction does not match the deadlines")
	ErrNoReason             = errors.New("deadline: an extension needs a reason")
	ErrAlreadyExtended      = errors.New("deadline: already extended once")
	ErrExtensionNotAllowed  = errors.New("deadline: extension not allowed")
	ErrNoticeWindowClosed   = errors.New("deadline: extension requested after the notice window closed")
	ErrBeforeReceipt        = errors.New("deadline: extension requested before the request was received")
)

func (p Policy) cal() *calendar.Calendar {
	if p.Calendar == nil {
		return calendar.Default()
	}
	return p.Calendar
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orJST(l *time.Location) *time.Location {
	if l == nil {
		return calendar.Location()
	}
	return l
}

func (p Policy) location(j kind.Jurisdiction) *time.Location {
	switch j {
	case kind.GDPR:
		return orJST(p.GDPRLocation)
	case kind.CCPA:
		return orJST(p.CCPALocation)
	}
	return calendar.Location()
}

// Due computes the deadlines for a request of jurisdiction j received at
// receivedAt.
//
//   - JP: the end of the JPTargetBusinessDays-th Japanese business day after
//     the receipt day, but never after the Art. 39 two-week point: if it
//     would be, the target is pulled back to the last business day on or
//     before it (or to the point itself if the two weeks hold no business
//     day). A staff extension is possible unless disabled.
//   - GDPR (Art. 12(3)): the end of the same date one month later, or of the
//     last day of that month if it has no such date. Extendable once by two
//     further months with notice inside the first month.
//   - CCPA: the end of the 45th calendar day counting the receipt day as day
//     1; receipt confirmed within 10 business days; extendable once by 45
//     days with notice inside the first 45.
func (p Policy) Due(j kind.Jurisdiction, receivedAt time.Time) (Deadlines, error) {
	return p.DueFor(j, "", receivedAt)
}

// DueFor is Due for a request of kind k, where the kind changes the period:
//
//   - CCPA opt-out of sale/sharing (third_party_stop): the end of the 15th
//     US business day after receipt (weekdays; federal holidays are not
//     skipped, which can only make the date earlier), not extendable, no
//     receipt confirmation.
//
// Every other kind has its jurisdiction's period (Due).
func (p Policy) DueFor(j kind.Jurisdiction, k kind.Kind, receivedAt time.Time) (Deadlines, error) {
	if j == kind.CCPA && k == kind.ThirdPartyStop {
		d := Deadlines{Jurisdiction: j, ReceivedAt: receivedAt}
		d.AnswerDue = addWeekdaysEnd(receivedAt.In(p.location(j)), ccpaOptOutBusinessDays)
		d.MaxDue = d.AnswerDue
		return d, nil
	}
	d := Deadlines{Jurisdiction: j, ReceivedAt: receivedAt, ExtensionPossible: true}
	switch j {
	case kind.JP:
		c := p.cal()
		received := calendar.DateOf(receivedAt)
		d.InternalTarget = true
		d.Art39PeriodEnd = received.AddDays(art39Days).End()
		d.AnswerDue = c.AddBusinessDays(receivedAt, orDefault(p.JPTargetBusinessDays, DefaultJPTargetBusinessDays))
		if d.AnswerDue.After(d.Art39PeriodEnd) {
			d.AnswerDue = d.Art39PeriodEnd
			if last, ok := c.LastBusinessDayOnOrBefore(received.AddDays(art39Days), received); ok {
				d.AnswerDue = last.End()
			}
		}
		d.ExtensionPossible = !p.DisableJPExtension
		if d.ExtensionPossible {
			d.MaxDue = p.jpExtended(d.AnswerDue)
		}
	case kind.GDPR:
		loc := p.location(j)
		d.AnswerDue = addMonthsEnd(receivedAt.In(loc), 1)
		d.MaxDue = addMonthsEnd(d.AnswerDue, gdprExtensionMonths)
	case kind.CCPA:
		loc := p.location(j)
		d.AnswerDue = addDaysEnd(receivedAt.In(loc), ccpaDays-1)
		d.ConfirmationDue = addWeekdaysEnd(receivedAt.In(loc), ccpaConfirmBusinessDays)
		d.MaxDue = addDaysEnd(d.AnswerDue, ccpaDays)
	default:
		return Deadlines{}, fmt.Errorf("%w: %q", ErrUnknownJurisdiction, string(j))
	}
	if d.ExtensionPossible {
		d.ExtensionNoticeBy = d.AnswerDue
	} else {
		d.MaxDue = d.AnswerDue
	}
	return d, nil
}

func (p Policy) jpExtended(due time.Time) time.Time {
	return p.cal().AddBusinessDays(due, orDefault(p.JPMaxExtensionBusinessDays, DefaultJPMaxExtensionBusinessDays))
}

// Extend grants the one extension a request may have, to MaxDue, recording
// the reason (which goes into the notice to the person, so it must not be
// empty). It fails for a second extension, where extension is not allowed,
// and when requestedAt is after ExtensionNoticeBy: the law requires the
// notice inside the original period, so a late extension cannot be cured.
//
// JP: APPI has no statutory extension, but a search across many systems can
// legitimately take longer; staff may extend the internal target once, by at
// most JPMaxExtensionBusinessDays, before it passes. The extended target may
// lie after Art39PeriodEnd; the workflow should tell the person of the delay.
func (p Policy) Extend(j kind.Jurisdiction, current Deadlines, requestedAt time.Time, reason string) (Deadlines, error) {
	if !j.Valid() {
		return current, fmt.Errorf("%w: %q", ErrUnknownJurisdiction, string(j))
	}
	if j != current.Jurisdiction {
		return current, fmt.Errorf("%w: %s vs %s", ErrJurisdictionMismatch, j, current.Jurisdiction)
	}
	reason = strings.TrimSpace(reason)
	switch {
	case current.Extended:
		return current, ErrAlreadyExtended
	case !current.ExtensionPossible || (j == kind.JP && p.DisableJPExtension):
		return current, ErrExtensionNotAllowed
	case reason == "":
		return current, ErrNoReason
	case requestedAt.Before(current.ReceivedAt):
		return current, ErrBeforeReceipt
	case requestedAt.After(current.ExtensionNoticeBy):
		return current, fmt.Errorf("%w: window closed at %v", ErrNoticeWindowClosed, current.ExtensionNoticeBy)
	}
	next := current
	next.OriginalDue = current.AnswerDue
	switch j {
	case kind.JP:
		next.AnswerDue = p.jpExtended(current.AnswerDue)
	case kind.GDPR:
		next.AnswerDue = addMonthsEnd(current.AnswerDue, gdprExtensionMonths)
	case kind.CCPA:
		next.AnswerDue = addDaysEnd(current.AnswerDue, ccpaDays)
	}
	next.MaxDue = next.AnswerDue
	next.Extended = true
	next.ExtensionPossible = false
	next.ExtendedAt = requestedAt
	next.ExtensionReason = reason
	return next, nil
}

// WarnAt is when the "deadline near" warning is raised: for JP when
// JPWarnBusinessDays business days are left (the end of the business day
// that many business days before the due day), for GDPR and CCPA
// WarnDaysBefore calendar days before the due day ends. Never before
// receipt; zero if d has no AnswerDue.
func (p Policy) WarnAt(d Deadlines) time.Time {
	if d.AnswerDue.IsZero() {
		return time.Time{}
	}
	var w time.Time
	if d.Jurisdiction == kind.JP {
		w = p.cal().AddBusinessDays(d.AnswerDue, -orDefault(p.JPWarnBusinessDays, DefaultJPWarnBusinessDays))
	} else {
		w = addDaysEnd(d.AnswerDue, -orDefault(p.WarnDaysBefore, DefaultWarnDaysBefore))
	}
	if w.Before(d.ReceivedAt) {
		return d.ReceivedAt
	}
	return w
}

// endOfDay returns the last instant of the civil date y-m-d in loc; taking
// the next midnight minus 1ns stays right on days with a DST change.
func endOfDay(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
}

// addDaysEnd returns the end of the day n calendar days after t's date, in
// t's location.
func addDaysEnd(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	return endOfDay(y, m, d+n, t.Location())
}

// addMonthsEnd returns the end of the same date n months after t's date, or
// of the last day of that month when it is shorter (Jan 31 + 1 → Feb 28).
func addMonthsEnd(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	last := time.Date(y, m+time.Month(n)+1, 0, 12, 0, 0, 0, time.UTC).Day()
	return endOfDay(y, m+time.Month(n), min(d, last), t.Location())
}

// addWeekdaysEnd returns the end of the n-th weekday after t's date. US
// business days are taken as Monday–Friday; federal holidays are not
// skipped, which can only make the date earlier, never late.
func addWeekdaysEnd(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	for n > 0 {
		d++
		switch time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday() {
		case time.Saturday, time.Sunday:
		default:
			n--
		}
	}
	return endOfDay(y, m, d, t.Location())
}
