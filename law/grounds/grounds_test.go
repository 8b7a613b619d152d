package grounds

import (
	"errors"
	"strings"
	"testing"

	"madoguchi.dev/law/kind"
)

func TestGroundCodesAreTheStablePublicValues(t *testing.T) {
	want := []string{"unlawful_use", "unlawful_acquisition", "no_longer_needed", "reportable_leak", "rights_harm", "provision_without_consent"}
	got := AllGrounds()
	if len(got) != len(want) {
		t.Fatalf("AllGrounds has %d, want %d", len(got), len(want))
	}
	for i, g := range got {
		if string(g) != want[i] {
			t.Errorf("ground %d = %q, want %q", i, g, want[i])
		}
		if p, err := ParseGround(want[i]); err != nil || p != g {
			t.Errorf("ParseGround(%q) = %q, %v", want[i], p, err)
		}
	}
}

func TestEveryGroundHasNoticeWordingAndAnArticle(t *testing.T) {
	for _, g := range AllGrounds() {
		txt, err := DescribeGround(g)
		if err != nil || txt.JA == "" || txt.EN == "" || !strings.HasPrefix(txt.Article, "Art. 35(") {
			t.Errorf("%s: %+v, %v", g, txt, err)
		}
	}
}

func TestUnknownGroundsAreRejected(t *testing.T) {
	for _, s := range []string{"", "Unlawful_Use", "no longer needed", "other"} {
		if ValidGround(s) {
			t.Errorf("ValidGround(%q) = true", s)
		}
		if _, err := ParseGround(s); !errors.Is(err, ErrUnknownGround) {
			t.Errorf("ParseGround(%q) err = %v", s, err)
		}
		if _, err := DescribeGround(Ground(s)); !errors.Is(err, ErrUnknownGround) {
			t.Errorf("DescribeGround(%q) err = %v", s, err)
		}
	}
}

func TestWhichGroundsSupportWhichKind(t *testing.T) {
	tests := []struct {
		g    Ground
		k    kind.Kind
		want bool
	}{
		{UnlawfulUse, kind.Suspension, true},
		{UnlawfulUse, kind.Erasure, true},
		{UnlawfulUse, kind.ThirdPartyStop, false},
		{UnlawfulAcquisition, kind.Erasure, true},
		{UnlawfulAcquisition, kind.ThirdPartyStop, false},
		{ProvisionWithoutConsent, kind.ThirdPartyStop, true},
		{ProvisionWithoutConsent, kind.Suspension, false},
		{NoLongerNeeded, kind.Suspension, true},
		{NoLongerNeeded, kind.ThirdPartyStop, true},
		{ReportableLeak, kind.Erasure, true},
		{ReportableLeak, kind.ThirdPartyStop, true},
		{RightsHarm, kind.Suspension, true},
		{RightsHarm, kind.ThirdPartyStop, true},
		{RightsHarm, kind.Disclosure, false},
		{NoLongerNeeded, kind.Deletion, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.g)+"/"+string(tt.k), func(t *testing.T) {
			if got := GroundAppliesTo(tt.g, tt.k); got != tt.want {
				t.Fatalf("GroundAppliesTo = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOnlyKindsNeedingArt35GroundsHaveGrounds(t *testing.T) {
	for _, k := range kind.All() {
		if got := len(GroundsFor(k)) > 0; got != k.NeedsArt35Grounds() {
			t.Errorf("%s: has grounds = %v, NeedsArt35Grounds = %v", k, got, k.NeedsArt35Grounds())
		}
	}
}

func TestValidateGrounds(t *testing.T) {
	tests := []struct {
		name string
		k    kind.Kind
		gs   []Ground
		err  error
	}{
		{"erasure with an applicable ground", kind.Erasure, []Ground{NoLongerNeeded}, nil},
		{"third-party stop with two applicable grounds", kind.ThirdPartyStop, []Ground{ProvisionWithoutConsent, RightsHarm}, nil},
		{"disclosure needs no ground", kind.Disclosure, nil, nil},
		{"suspension without a ground", kind.Suspension, nil, ErrGroundRequired},
		{"third-party stop citing an Art. 35(1) ground", kind.ThirdPartyStop, []Ground{UnlawfulUse}, ErrGroundNotAllowed},
		{"correction citing a ground", kind.Correction, []Ground{RightsHarm}, ErrGroundNotAllowed},
		{"unknown ground", kind.Erasure, []Ground{"because"}, ErrUnknownGround},
		{"unknown kind", "bogus", nil, kind.ErrUnknownKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateGrounds(tt.k, tt.gs); !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}
