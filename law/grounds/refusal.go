package grounds

import (
	"errors"
	"fmt"
	"strings"
)

// RefusalReason is the code staff give for not doing (all of) what was
// asked. Art. 36 asks us to explain the reason, so every code has notice
// wording and a decision must add free text.
type RefusalReason string

// The refusal reasons.
const (
	RiskToLifeBodyPropertyRights   RefusalReason = "risk_to_life_body_property_rights" // Art. 33(2)(i): person or third party
	SeriousHindranceToBusiness     RefusalReason = "serious_hindrance_to_business"     // Art. 33(2)(ii)
	BreachOfOtherLaw               RefusalReason = "breach_of_other_law"               // Art. 33(2)(iii)
	NotFound                       RefusalReason = "not_found"                         // no such data held
	IdentityNotVerified            RefusalReason = "identity_not_verified"             // Art. 37 check failed
	GroundsNotMet                  RefusalReason = "grounds_not_met"                   // Art. 34/35 conditions not met
	EntrustingCompanyDeclined      RefusalReason = "entrusting_company_declined"       // 委託元 instructed not to act
	ManifestlyUnfoundedOrExcessive RefusalReason = "manifestly_unfounded_or_excessive" // GDPR Art. 12(5)
	Other                          RefusalReason = "other"
)

// ErrUnknownRefusalReason is returned (wrapped) for a string that is not a
// RefusalReason.
var ErrUnknownRefusalReason = errors.New("grounds: unknown refusal reason")

// AllRefusalReasons returns every RefusalReason. A new slice each call.
func AllRefusalReasons() []RefusalReason {
	return []RefusalReason{
		RiskToLifeBodyPropertyRights, SeriousHindranceToBusiness, BreachOfOtherLaw,
		NotFound, IdentityNotVerified, GroundsNotMet, EntrustingCompanyDeclined,
		ManifestlyUnfoundedOrExcessive, Other,
	}
}

// ValidRefusalReason reports whether s is a RefusalReason value.
func ValidRefusalReason(s string) bool {
	_, ok := refusalText(RefusalReason(s))
	return ok
}

// ParseRefusalReason returns the RefusalReason whose value is exactly s.
func ParseRefusalReason(s string) (RefusalReason, error) {
	if !ValidRefusalReason(s) {
		return "", fmt.Errorf("%w: %q", ErrUnknownRefusalReason, s)
	}
	return RefusalReason(s), nil
}

// DescribeRefusal returns the notice wording for r.
func DescribeRefusal(r RefusalReason) (Text, error) {
	t, ok := refusalText(r)
	if !ok {
		return Text{}, fmt.Errorf("%w: %q", ErrUnknownRefusalReason, string(r))
	}
	return t, nil
}

func refusalText(r RefusalReason) (Text, bool) {
	switch r {
	case RiskToLifeBodyPropertyRights:
		return Text{
			JA:      "ご本人または第三者の生命、身体、財産その他の権利利益を害するおそれがあるため。",
			EN:      "Doing so could harm the life, body, property or other rights or interests of you or a third party.",
			Article: "Art. 33(2)(i)",
		}, true
	case SeriousHindranceToBusiness:
		return Text{
			JA:      "当社の業務の適正な実施に著しい支障を及ぼすおそれがあるため。",
			EN:      "Doing so could seriously hinder the proper conduct of our business.",
			Article: "Art. 33(2)(ii)",
		}, true
	case BreachOfOtherLaw:
		return Text{
			JA:      "他の法令に違反することとなるため。",
			EN:      "Doing so would breach another law.",
			Article: "Art. 33(2)(iii)",
		}, true
	case NotFound:
		return Text{
			JA:      "ご請求に係る保有個人データが存在しないため。",
			EN:      "We hold no personal data covered by your request.",
			Article: "Art. 33(3)",
		}, true
	case IdentityNotVerified:
		return Text{
			JA:      "ご本人（代理人による請求の場合はその権限）を確認できなかったため。",
			EN:      "We could not verify your identity (or, for a request by an agent, the agent's authority).",
			Article: "Art. 37",
		}, true
	case GroundsNotMet:
		return Text{
			JA:      "法令に定める要件を満たさないため。",
			EN:      "The conditions the law sets for this request are not met.",
			Article: "Art. 34, 35",
		}, true
	case EntrustingCompanyDeclined:
		return Text{
			JA:      "当社は委託を受けて当該データを取り扱っており、委託元の事業者から対応しない旨の指示があったため。",
			EN:      "We process this data on behalf of another company, which instructed us not to act on the request.",
			Article: "",
		}, true
	case ManifestlyUnfoundedOrExcessive:
		return Text{
			JA:      "ご請求が明らかに根拠を欠く、または過剰であるため。",
			EN:      "Your request is manifestly unfounded or excessive.",
			Article: "GDPR Art. 12(5)",
		}, true
	case Other:
		return Text{
			JA:      "その他の理由によるため（詳細は以下のとおりです）。",
			EN:      "For another reason, explained below.",
			Article: "",
		}, true
	}
	return Text{}, false
}

// Outcome is the staff decision on a request.
type Outcome string

// The outcomes.
const (
	Approve         Outcome = "approve"
	Refuse          Outcome = "refuse"
	PartiallyRefuse Outcome = "partially_refuse"
)

// Decision is what staff decided and why. Explanation is the free text that
// goes into the notice with the reason's wording (Art. 36); it must not
// repeat personal data beyond what the notice needs.
type Decision struct {
	Outcome     Outcome
	Reason      RefusalReason // required for refuse and partially_refuse, empty for approve
	Explanation string        // required for refuse and partially_refuse
}

// Errors returned by Decision.Validate.
var (
	ErrUnknownOutcome     = errors.New("grounds: unknown decision outcome")
	ErrReasonRequired     = errors.New("grounds: a refusal needs a reason code")
	ErrExplanationMissing = errors.New("grounds: a refusal needs an explanation")
	ErrReasonOnApproval   = errors.New("grounds: an approval carries no refusal reason")
)

// Validate checks that a refusal, full or partial, carries a valid reason
// code and a non-blank explanation, and that an approval carries no reason
// code (a stray code would print a refusal sentence in an approval notice).
func (d Decision) Validate() error {
	switch d.Outcome {
	case Approve:
		if d.Reason != "" {
			return ErrReasonOnApproval
		}
		return nil
	case Refuse, PartiallyRefuse:
		if d.Reason == "" {
			return ErrReasonRequired
		}
		if !ValidRefusalReason(string(d.Reason)) {
			return fmt.Errorf("%w: %q", ErrUnknownRefusalReason, string(d.Reason))
		}
		if strings.TrimSpace(d.Explanation) == "" {
			return ErrExplanationMissing
		}
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnknownOutcome, string(d.Outcome))
}
