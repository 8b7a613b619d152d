package grounds

import (
	"errors"
	"testing"
)

func TestRefusalReasonCodesAreTheStablePublicValues(t *testing.T) {
	want := []string{
		"risk_to_life_body_property_rights", "serious_hindrance_to_business", "breach_of_other_law",
		"not_found", "identity_not_verified", "grounds_not_met", "entrusting_company_declined",
		"manifestly_unfounded_or_excessive", "other",
	}
	got := AllRefusalReasons()
	if len(got) != len(want) {
		t.Fatalf("AllRefusalReasons has %d, want %d", len(got), len(want))
	}
	for i, r := range got {
		if string(r) != want[i] {
			t.Errorf("reason %d = %q, want %q", i, r, want[i])
		}
		if p, err := ParseRefusalReason(want[i]); err != nil || p != r {
			t.Errorf("ParseRefusalReason(%q) = %q, %v", want[i], p, err)
		}
	}
}

func TestEveryRefusalReasonHasNoticeWording(t *testing.T) {
	articles := map[RefusalReason]string{
		RiskToLifeBodyPropertyRights:   "Art. 33(2)(i)",
		SeriousHindranceToBusiness:     "Art. 33(2)(ii)",
		BreachOfOtherLaw:               "Art. 33(2)(iii)",
		ManifestlyUnfoundedOrExcessive: "GDPR Art. 12(5)",
		IdentityNotVerified:            "Art. 37",
	}
	for _, r := range AllRefusalReasons() {
		txt, err := DescribeRefusal(r)
		if err != nil || txt.JA == "" || txt.EN == "" {
			t.Errorf("%s: %+v, %v", r, txt, err)
		}
		if want, ok := articles[r]; ok && txt.Article != want {
			t.Errorf("%s: article %q, want %q", r, txt.Article, want)
		}
	}
}

func TestUnknownRefusalReasonsAreRejected(t *testing.T) {
	for _, s := range []string{"", "Other", "no_reason", "unlawful_use"} {
		if ValidRefusalReason(s) {
			t.Errorf("ValidRefusalReason(%q) = true", s)
		}
		if _, err := ParseRefusalReason(s); !errors.Is(err, ErrUnknownRefusalReason) {
			t.Errorf("ParseRefusalReason(%q) err = %v", s, err)
		}
		if _, err := DescribeRefusal(RefusalReason(s)); !errors.Is(err, ErrUnknownRefusalReason) {
			t.Errorf("DescribeRefusal(%q) err = %v", s, err)
		}
	}
}

func TestDecisionValidate(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		err  error
	}{
		{"plain approval", Decision{Outcome: Approve}, nil},
		{"approval with a note", Decision{Outcome: Approve, Explanation: "done in full"}, nil},
		{"refusal with reason and explanation", Decision{Refuse, NotFound, "no records under the given customer number"}, nil},
		{"partial refusal with reason and explanation", Decision{PartiallyRefuse, SeriousHindranceToBusiness, "internal audit notes withheld"}, nil},
		{"refusal for another reason", Decision{Refuse, Other, "explained in the letter"}, nil},
		{"refusal without a reason code", Decision{Refuse, "", "no"}, ErrReasonRequired},
		{"partial refusal without a reason code", Decision{PartiallyRefuse, "", "some withheld"}, ErrReasonRequired},
		{"refusal with an unknown reason code", Decision{Refuse, "too_busy", "no"}, ErrUnknownRefusalReason},
		{"refusal without an explanation", Decision{Refuse, NotFound, ""}, ErrExplanationMissing},
		{"partial refusal with a blank explanation", Decision{PartiallyRefuse, BreachOfOtherLaw, " \n　"}, ErrExplanationMissing},
		{"approval carrying a refusal reason", Decision{Approve, NotFound, ""}, ErrReasonOnApproval},
		{"missing outcome", Decision{Reason: NotFound, Explanation: "x"}, ErrUnknownOutcome},
		{"unknown outcome", Decision{Outcome: "maybe"}, ErrUnknownOutcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Validate = %v, want %v", err, tt.err)
			}
		})
	}
}
