// Package fee decides whether a request carries a fee and how long the
// person has to pay it.
//
// APPI Art. 38 lets a company charge a reasonable fee only for a notice of
// purpose of use (Art. 32(2)), a disclosure (Art. 33(1)) and a disclosure of
// third-party provision records (Art. 33(5)); every other kind is free.
// GDPR requests are free unless manifestly unfounded or excessive (Art.
// 12(5)); CCPA requests are free.
package fee

import (
	"errors"
	"fmt"
	"time"

	"madoguchi.dev/law/calendar"
	"madoguchi.dev/law/kind"
)

// Reason codes for Assessment.Reason. They are stable: notices and reports
// key on them.
const (
	ReasonAPPIDisclosure          = "appi_art38_disclosure"     // fee-bearing APPI kind, fee charged
	ReasonAPPINoFeeConfigured     = "appi_no_fee_configured"    // fee-bearing APPI kind, configured fee is 0
	ReasonFreeKind                = "free_kind"                 // APPI kind that may never carry a fee
	ReasonGDPRFree                = "gdpr_free"                 // GDPR, normal case (or excessive with no fee set)
	ReasonGDPRManifestlyExcessive = "gdpr_manifestly_excessive" // GDPR, staff marked it manifestly excessive
	ReasonCCPAFree                = "ccpa_free"                 // CCPA, always free
)

// Defaults. 1000 JPY is a common disclosure fee among Japanese companies.
const (
	DefaultDisclosureFeeJPY    = 1000
	DefaultGDPRExcessiveFeeJPY = 1000
	DefaultPaymentWindowDays   = 14
	DefaultPaymentReminderDays = 3
)

// Config holds the fee amounts. The zero Config charges nothing: a 0 amount
// means "no fee", so use DefaultConfig for the defaults.
type Config struct {
	// DisclosureFeeJPY is charged for each fee-bearing APPI request
	// (disclosure, third_party_record_disclosure, purpose_notice).
	DisclosureFeeJPY int
	// GDPRExcessiveFeeJPY is the reasonable fee for a GDPR request staff
	// have marked manifestly excessive.
	GDPRExcessiveFeeJPY int
}

// DefaultConfig returns 1000 JPY for both amounts.
func DefaultConfig() Config {
	return Config{DisclosureFeeJPY: DefaultDisclosureFeeJPY, GDPRExcessiveFeeJPY: DefaultGDPRExcessiveFeeJPY}
}

// ErrInvalidConfig is returned (wrapped) for a negative amount.
var ErrInvalidConfig = errors.New("fee: invalid config")

// Validate rejects negative amounts.
func (c Config) Validate() error {
	if c.DisclosureFeeJPY < 0 || c.GDPRExcessiveFeeJPY < 0 {
		return fmt.Errorf("%w: negative amount in %+v", ErrInvalidConfig, c)
	}
	return nil
}

// Assessment is the fee decision for one request.
type Assessment struct {
	Required  bool
	AmountJPY int    // 0 unless Required
	Reason    string // one of the Reason* codes
}

// MayCharge reports whether APPI Art. 38 allows a fee for k at all.
func MayCharge(k kind.Kind) bool {
	switch k {
	case kind.Disclosure, kind.ThirdPartyRecordDisclosure, kind.PurposeNotice:
		return true
	}
	return false
}

// Assess decides the fee for a request of kind k under jurisdiction j.
// manifestlyExcessive is the staff's judgement and matters only for GDPR;
// APPI and CCPA have no such fee. Invalid inputs are errors, never a fee.
func Assess(k kind.Kind, j kind.Jurisdiction, manifestlyExcessive bool, cfg Config) (Assessment, error) {
	if !k.Valid() {
		return Assessment{}, fmt.Errorf("fee: %w: %q", kind.ErrUnknownKind, string(k))
	}
	if err := cfg.Validate(); err != nil {
		return Assessment{}, err
	}
	switch j {
	case kind.JP:
		switch {
		case !MayCharge(k):
			return Assessment{Reason: ReasonFreeKind}, nil
		case cfg.DisclosureFeeJPY == 0:
			return Assessment{Reason: ReasonAPPINoFeeConfigured}, nil
		}
		return Assessment{Required: true, AmountJPY: cfg.DisclosureFeeJPY, Reason: ReasonAPPIDisclosure}, nil
	case kind.GDPR:
		if manifestlyExcessive && cfg.GDPRExcessiveFeeJPY > 0 {
			return Assessment{Required: true, AmountJPY: cfg.GDPRExcessiveFeeJPY, Reason: ReasonGDPRManifestlyExcessive}, nil
		}
		return Assessment{Reason: ReasonGDPRFree}, nil
	case kind.CCPA:
		return Assessment{Reason: ReasonCCPAFree}, nil
	}
	return Assessment{}, fmt.Errorf("fee: %w: %q", kind.ErrUnknownJurisdiction, string(j))
}

// PaymentPolicy says how long the person has to pay and when to remind
// them. Zero fields take the defaults (14 days, reminder 3 days before).
type PaymentPolicy struct {
	WindowDays         int
	ReminderDaysBefore int
}

// PaymentWindow is the timing of one payment request.
type PaymentWindow struct {
	RequestedAt time.Time
	// Due is the end (JST) of the WindowDays-th calendar day after the day
	// payment was requested; the request day is not counted.
	Due time.Time
	// RemindAt is exactly ReminderDaysBefore days before Due (JST has no
	// DST, so days are 24h), but never before RequestedAt.
	RemindAt time.Time
}

// Window computes the payment window for a payment requested at requestedAt.
func (p PaymentPolicy) Window(requestedAt time.Time) PaymentWindow {
	days, remind := p.WindowDays, p.ReminderDaysBefore
	if days <= 0 {
		days = DefaultPaymentWindowDays
	}
	if remind <= 0 {
		remind = DefaultPaymentReminderDays
	}
	due := calendar.DateOf(requestedAt).AddDays(days).End()
	at := due.Add(-time.Duration(remind) * 24 * time.Hour)
	if at.Before(requestedAt) {
		at = requestedAt
	}
	return PaymentWindow{RequestedAt: requestedAt, Due: due, RemindAt: at}
}

// Expired reports whether the window has closed at now: payment is still on
// time at the last instant of Due.
func (w PaymentWindow) Expired(now time.Time) bool { return now.After(w.Due) }
