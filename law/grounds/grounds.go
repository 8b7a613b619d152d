// Package grounds lists the APPI Art. 35 grounds a person can cite for
// suspension, erasure or stop of third-party provision, the reason codes
// staff give when refusing, with the ja/en wording for notices, and the
// staff Decision that ties them together.
//
// Codes are stable public values; wording may be improved freely.
package grounds

import (
	"errors"
	"fmt"

	"madoguchi.dev/law/kind"
)

// Text is the notice wording for a code, with the provision it rests on.
type Text struct {
	JA      string
	EN      string
	Article string
}

// Ground is an Art. 35 ground for suspension, erasure or third_party_stop.
type Ground string

// The grounds.
const (
	UnlawfulUse             Ground = "unlawful_use"              // Art. 35(1): handled against Art. 18 or 19
	UnlawfulAcquisition     Ground = "unlawful_acquisition"      // Art. 35(1): acquired against Art. 20
	NoLongerNeeded          Ground = "no_longer_needed"          // Art. 35(5)
	ReportableLeak          Ground = "reportable_leak"           // Art. 35(5): a leak reportable under Art. 26(1)
	RightsHarm              Ground = "rights_harm"               // Art. 35(5)
	ProvisionWithoutConsent Ground = "provision_without_consent" // Art. 35(3): provided against Art. 27(1) or 28
)

// ErrUnknownGround is returned (wrapped) for a string that is not a Ground.
var ErrUnknownGround = errors.New("grounds: unknown ground")

// AllGrounds returns every Ground. A new slice each call.
func AllGrounds() []Ground {
	return []Ground{UnlawfulUse, UnlawfulAcquisition, NoLongerNeeded, ReportableLeak, RightsHarm, ProvisionWithoutConsent}
}

// ValidGround reports whether s is a Ground value.
func ValidGround(s string) bool {
	_, ok := groundText(Ground(s))
	return ok
}

// ParseGround returns the Ground whose value is exactly s.
func ParseGround(s string) (Ground, error) {
	if !ValidGround(s) {
		return "", fmt.Errorf("%w: %q", ErrUnknownGround, s)
	}
	return Ground(s), nil
}

// DescribeGround returns the notice wording for g.
func DescribeGround(g Ground) (Text, error) {
	t, ok := groundText(g)
	if !ok {
		return Text{}, fmt.Errorf("%w: %q", ErrUnknownGround, string(g))
	}
	return t, nil
}

func groundText(g Ground) (Text, bool) {
	switch g {
	case UnlawfulUse:
		return Text{
			JA:      "利用目的の範囲を超えて、または不適正な方法で利用されている",
			EN:      "The data is used beyond its stated purposes or in an improper way.",
			Article: "Art. 35(1); Art. 18, 19",
		}, true
	case UnlawfulAcquisition:
		return Text{
			JA:      "偽りその他不正の手段により取得された、または同意なく要配慮個人情報が取得された",
			EN:      "The data was acquired by deception or other wrongful means, or sensitive data was acquired without consent.",
			Article: "Art. 35(1); Art. 20",
		}, true
	case NoLongerNeeded:
		return Text{
			JA:      "当社が利用する必要がなくなった",
			EN:      "We no longer need to use the data.",
			Article: "Art. 35(5)",
		}, true
	case ReportableLeak:
		return Text{
			JA:      "報告対象となる漏えい等の事態が生じた",
			EN:      "A leak or similar incident that must be reported to the regulator has occurred.",
			Article: "Art. 35(5); Art. 26(1)",
		}, true
	case RightsHarm:
		return Text{
			JA:      "ご本人の権利または正当な利益が害されるおそれがある",
			EN:      "Handling the data may harm your rights or legitimate interests.",
			Article: "Art. 35(5)",
		}, true
	case ProvisionWithoutConsent:
		return Text{
			JA:      "ご本人の同意なく第三者に提供されている",
			EN:      "The data is provided to third parties without your consent.",
			Article: "Art. 35(3); Art. 27(1), 28",
		}, true
	}
	return Text{}, false
}

// GroundsFor returns the grounds that can support a request of kind k, in
// a stable order; nil for kinds that need no ground. Art. 35(1) grounds
// support suspension and erasure, Art. 35(3) supports third_party_stop, and
// the Art. 35(5) grounds support all three.
func GroundsFor(k kind.Kind) []Ground {
	switch k {
	case kind.Suspension, kind.Erasure:
		return []Ground{UnlawfulUse, UnlawfulAcquisition, NoLongerNeeded, ReportableLeak, RightsHarm}
	case kind.ThirdPartyStop:
		return []Ground{ProvisionWithoutConsent, NoLongerNeeded, ReportableLeak, RightsHarm}
	}
	return nil
}

// GroundAppliesTo reports whether g can support a request of kind k.
func GroundAppliesTo(g Ground, k kind.Kind) bool {
	for _, h := range GroundsFor(k) {
		if h == g {
			return true
		}
	}
	return false
}

// Errors returned by ValidateGrounds.
var (
	ErrGroundRequired   = errors.New("grounds: this kind needs at least one Art. 35 ground")
	ErrGroundNotAllowed = errors.New("grounds: ground does not apply to this kind")
)

// ValidateGrounds checks the grounds cited for a request of kind k: a kind
// that needs Art. 35 grounds must cite at least one, each applicable to it;
// any other kind must cite none.
func ValidateGrounds(k kind.Kind, gs []Ground) error {
	if !k.Valid() {
		return fmt.Errorf("grounds: %w: %q", kind.ErrUnknownKind, string(k))
	}
	if k.NeedsArt35Grounds() && len(gs) == 0 {
		return fmt.Errorf("%w: %s", ErrGroundRequired, k)
	}
	for _, g := range gs {
		if !ValidGround(string(g)) {
			return fmt.Errorf("%w: %q", ErrUnknownGround, string(g))
		}
		if !GroundAppliesTo(g, k) {
			return fmt.Errorf("%w: %s for %s", ErrGroundNotAllowed, g, k)
		}
	}
	return nil
}
