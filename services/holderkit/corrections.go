package holderkit

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// CorrectionVocabulary is the field names of staff-approved corrections, shared by
// every holder so that one approved correction can be sent to all of them.
var CorrectionVocabulary = []string{"name", "name_kana", "email", "phone", "postal_code", "address"}

// CorrectionPlan sorts staff-approved corrections into what a holder
// applies and what it cannot. Only field names ever reach the reason, never
// values.
type CorrectionPlan struct {
	Set     map[string]*string // held field -> new value
	Applied []string
	NotHeld []string // in the vocabulary, but not held by this holder
	Unknown []string // not in the vocabulary
	Invalid []string // held, but the value is unusable
}

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// PlanCorrections plans the corrections for a holder that stores the fields held.
func PlanCorrections(values map[string]string, held ...string) CorrectionPlan {
	p := CorrectionPlan{Set: map[string]*string{}}
	for field, raw := range values {
		v := strings.TrimSpace(raw)
		switch {
		case !slices.Contains(CorrectionVocabulary, field):
			if !fieldNameRE.MatchString(field) {
				field = "(unreadable field name)"
			}
			p.Unknown = append(p.Unknown, field)
		case !slices.Contains(held, field):
			p.NotHeld = append(p.NotHeld, field)
		case !validValue(field, v):
			p.Invalid = append(p.Invalid, field)
		default:
			p.Set[field] = &v
			p.Applied = append(p.Applied, field)
		}
	}
	for _, s := range [][]string{p.Applied, p.NotHeld, p.Unknown, p.Invalid} {
		sort.Strings(s)
	}
	return p
}

func validValue(field, v string) bool {
	if len(v) > 500 || strings.ContainsFunc(v, unicode.IsControl) {
		return false
	}
	switch field {
	case "name":
		return v != ""
	case "email":
		at := strings.IndexByte(v, '@')
		return at > 0 && at < len(v)-1 && strings.Count(v, "@") == 1 && !strings.ContainsFunc(v, unicode.IsSpace)
	}
	return true
}

// Result reports the plan after records rows were updated: DONE, or PARTIAL
// when a field was unknown or a value unusable.
func (p CorrectionPlan) Result(records int) Result {
	var parts []string
	if len(p.Applied) > 0 {
		parts = append(parts, "corrected: "+strings.Join(p.Applied, ", "))
	}
	if len(p.NotHeld) > 0 {
		parts = append(parts, "not held here: "+strings.Join(p.NotHeld, ", "))
	}
	if len(p.Unknown) > 0 {
		parts = append(parts, "unknown fields not applied: "+strings.Join(p.Unknown, ", "))
	}
	if len(p.Invalid) > 0 {
		parts = append(parts, "invalid values not applied: "+strings.Join(p.Invalid, ", "))
	}
	out := dsrv1.Outcome_OUTCOME_DONE
	if len(p.Unknown) > 0 || len(p.Invalid) > 0 {
		out = dsrv1.Outcome_OUTCOME_PARTIAL
	}
	return Result{Outcome: out, RecordsAffected: records, Reason: strings.Join(parts, "; ")}
}
