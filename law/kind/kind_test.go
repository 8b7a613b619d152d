package kind

import (
	"errors"
	"strings"
	"testing"
)

func TestEachKindIsDescribedAsTheLawAndFormSay(t *testing.T) {
	tests := []struct {
		kind                       Kind
		value, labelJA, article    string
		art35, changes, erasureish bool
	}{
		{Disclosure, "disclosure", "開示", "Art. 33", false, false, false},
		{Correction, "correction", "訂正", "Art. 34", false, true, false},
		{Addition, "addition", "追加", "Art. 34", false, true, false},
		{Deletion, "deletion", "削除", "Art. 34", false, true, true},
		{Suspension, "suspension", "利用停止", "Art. 35", true, false, false},
		{Erasure, "erasure", "消去", "Art. 35", true, false, true},
		{ThirdPartyStop, "third_party_stop", "第三者提供の停止", "Art. 35", true, false, false},
		{ThirdPartyRecordDisclosure, "third_party_record_disclosure", "第三者提供記録の開示", "Art. 33(5)", false, false, false},
		{PurposeNotice, "purpose_notice", "利用目的の通知", "Art. 32(2)", false, false, false},
	}
	if len(tests) != len(All()) {
		t.Fatalf("table covers %d kinds, All() has %d", len(tests), len(All()))
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if string(tt.kind) != tt.value {
				t.Errorf("public value = %q, want %q", tt.kind, tt.value)
			}
			in, err := Describe(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != tt.kind || in.LabelJA != tt.labelJA || in.Article != tt.article {
				t.Errorf("got %q/%q/%q, want %q/%q/%q", in.Kind, in.LabelJA, in.Article, tt.kind, tt.labelJA, tt.article)
			}
			if tt.kind.LabelJA() != tt.labelJA || tt.kind.Article() != tt.article {
				t.Errorf("accessors disagree with Describe")
			}
			if got := tt.kind.NeedsArt35Grounds(); got != tt.art35 {
				t.Errorf("NeedsArt35Grounds = %v, want %v", got, tt.art35)
			}
			if got := tt.kind.ChangesData(); got != tt.changes {
				t.Errorf("ChangesData = %v, want %v", got, tt.changes)
			}
			if got := tt.kind.IsErasure(); got != tt.erasureish {
				t.Errorf("IsErasure = %v, want %v", got, tt.erasureish)
			}
			if in.LabelEN == "" || in.ArticleJA == "" || in.ExplanationJA == "" || in.ExplanationEN == "" {
				t.Errorf("missing text: %+v", in)
			}
			if tt.kind.LabelEN() != in.LabelEN {
				t.Errorf("LabelEN accessor disagrees")
			}
		})
	}
}

func TestExplanationsAreOneOrTwoSentencesAndMentionFeesOnlyWhereAFeeMayApply(t *testing.T) {
	feeKinds := map[Kind]bool{Disclosure: true, ThirdPartyRecordDisclosure: true, PurposeNotice: true}
	for _, k := range All() {
		in, _ := Describe(k)
		if n := strings.Count(in.ExplanationJA, "。"); n < 1 || n > 2 {
			t.Errorf("%s: Japanese explanation has %d sentences", k, n)
		}
		if n := strings.Count(in.ExplanationEN, ". "); n > 1 || !strings.HasSuffix(in.ExplanationEN, ".") {
			t.Errorf("%s: English explanation is not one or two sentences: %q", k, in.ExplanationEN)
		}
		if got := strings.Contains(in.ExplanationJA, "手数料"); got != feeKinds[k] {
			t.Errorf("%s: Japanese explanation mentions a fee = %v, want %v", k, got, feeKinds[k])
		}
		if got := strings.Contains(in.ExplanationEN, "fee"); got != feeKinds[k] {
			t.Errorf("%s: English explanation mentions a fee = %v, want %v", k, got, feeKinds[k])
		}
	}
}

func TestParseAcceptsOnlyExactPublicValues(t *testing.T) {
	tests := []struct {
		name, in string
		want     Kind
		ok       bool
	}{
		{"exact value", "third_party_stop", ThirdPartyStop, true},
		{"another exact value", "purpose_notice", PurposeNotice, true},
		{"upper case is rejected", "Disclosure", "", false},
		{"surrounding spaces are rejected", " disclosure", "", false},
		{"japanese label is not a value", "開示", "", false},
		{"empty", "", "", false},
		{"foreign right name is not a kind", "access", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrUnknownKind) || got != "" {
				t.Fatalf("Parse(%q) = %q, %v; want ErrUnknownKind", tt.in, got, err)
			}
		})
	}
}

func TestAllRoundTripsThroughParseAndReturnsAFreshSlice(t *testing.T) {
	all := All()
	for _, k := range all {
		if got, err := Parse(k.String()); err != nil || got != k {
			t.Errorf("Parse(%q) = %q, %v", k, got, err)
		}
	}
	all[0] = "tampered"
	if All()[0] != Disclosure {
		t.Error("modifying the returned slice changed the next result")
	}
}

func TestInvalidKindHasNoDescriptionAndZeroFlags(t *testing.T) {
	k := Kind("bogus")
	if k.Valid() {
		t.Fatal("bogus kind is valid")
	}
	if _, err := Describe(k); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("Describe err = %v", err)
	}
	if k.LabelJA() != "" || k.NeedsArt35Grounds() || k.ChangesData() || k.IsErasure() {
		t.Error("invalid kind reports non-zero attributes")
	}
}

func TestParseJurisdictionAcceptsOnlyExactCodes(t *testing.T) {
	tests := []struct {
		in   string
		want Jurisdiction
		ok   bool
	}{
		{"JP", JP, true},
		{"EU", GDPR, true},
		{"US-CA", CCPA, true},
		{"jp", "", false},
		{"GDPR", "", false},
		{"CCPA", "", false},
		{"US", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseJurisdiction(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("ParseJurisdiction(%q) = %q, %v", tt.in, got, err)
			}
			if !tt.ok && !errors.Is(err, ErrUnknownJurisdiction) {
				t.Fatalf("error %v is not ErrUnknownJurisdiction", err)
			}
		})
	}
	if len(Jurisdictions()) != 3 {
		t.Fatal("want three jurisdictions")
	}
}

func TestMapRightMapsForeignRightsOntoKinds(t *testing.T) {
	tests := []struct {
		j     Jurisdiction
		right string
		want  Kind
	}{
		{GDPR, "access", Disclosure},
		{GDPR, "rectification", Correction},
		{GDPR, "erasure", Erasure},
		{GDPR, "restriction", Suspension},
		{GDPR, "portability", Disclosure},
		{GDPR, "objection", Suspension},
		{CCPA, "know", Disclosure},
		{CCPA, "delete", Deletion},
		{CCPA, "correct", Correction},
		{CCPA, "opt_out", ThirdPartyStop},
		{JP, "disclosure", Disclosure},
		{JP, "third_party_record_disclosure", ThirdPartyRecordDisclosure},
	}
	for _, tt := range tests {
		t.Run(string(tt.j)+"/"+tt.right, func(t *testing.T) {
			got, err := MapRight(tt.j, tt.right)
			if err != nil || got != tt.want {
				t.Fatalf("MapRight = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestMapRightRejectsRightsFromAnotherLawOrUnknownNames(t *testing.T) {
	tests := []struct {
		name  string
		j     Jurisdiction
		right string
		err   error
	}{
		{"CCPA name under GDPR", GDPR, "know", ErrUnknownRight},
		{"GDPR name under CCPA", CCPA, "access", ErrUnknownRight},
		{"GDPR name under JP", JP, "access", ErrUnknownRight},
		{"APPI kind under GDPR", GDPR, "disclosure", ErrUnknownRight},
		{"case matters", GDPR, "Access", ErrUnknownRight},
		{"empty right", CCPA, "", ErrUnknownRight},
		{"unknown jurisdiction", Jurisdiction("UK"), "access", ErrUnknownJurisdiction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MapRight(tt.j, tt.right)
			if !errors.Is(err, tt.err) || got != "" {
				t.Fatalf("MapRight(%q, %q) = %q, %v; want %v", tt.j, tt.right, got, err, tt.err)
			}
		})
	}
}

func TestRightsListsExactlyWhatMapRightAccepts(t *testing.T) {
	for _, j := range Jurisdictions() {
		rights := Rights(j)
		if len(rights) == 0 {
			t.Fatalf("%s has no rights", j)
		}
		for _, r := range rights {
			if _, err := MapRight(j, r); err != nil {
				t.Errorf("%s lists %q but MapRight rejects it: %v", j, r, err)
			}
		}
	}
	if Rights("UK") != nil {
		t.Error("unknown jurisdiction has rights")
	}
}
