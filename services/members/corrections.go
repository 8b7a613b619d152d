package members

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Vocabulary is the field names of staff-approved corrections, shared by
// every holder so that one approved correction can be sent to all of them.
var Vocabulary = []string{"name", "name_kana", "email", "phone", "postal_code", "address"}

// correctionPlan sorts requested corrections into what this holder applies
// and what it cannot. Only field names ever reach the reason, never values.
type correctionPlan struct {
	set     map[string]*string // held field -> new value
	applied []string
	notHeld []string // in the vocabulary, but not held by this holder
	unknown []string // not in the vocabulary
	invalid []string // held, but the value is unusable
}

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func planCorrections(values map[string]string, held ...string) correctionPlan {
	p := correctionPlan{set: map[string]*string{}}
	for field, raw := range values {
		v := strings.TrimSpace(raw)
		switch {
		case !slices.Contains(Vocabulary, field):
			if !fieldNameRE.MatchString(field) {
				field = "(unreadable field name)"
			}
			p.unknown = append(p.unknown, field)
		case !slices.Contains(held, field):
			p.notHeld = append(p.notHeld, field)
		case !validValue(field, v):
			p.invalid = append(p.invalid, field)
		default:
			p.set[field] = &v
			p.applied = append(p.applied, field)
		}
	}
	for _, s := range [][]string{p.applied, p.notHeld, p.unknown, p.invalid} {
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

// result reports the plan after records rows were updated.
func (p correctionPlan) result(records int) holderkit.Result {
	var parts []string
	if len(p.applied) > 0 {
		parts = append(parts, "corrected: "+strings.Join(p.applied, ", "))
	}
	if len(p.notHeld) > 0 {
		parts = append(parts, "not held here: "+strings.Join(p.notHeld, ", "))
	}
	if len(p.unknown) > 0 {
		parts = append(parts, "unknown fields not applied: "+strings.Join(p.unknown, ", "))
	}
	if len(p.invalid) > 0 {
		parts = append(parts, "invalid values not applied: "+strings.Join(p.invalid, ", "))
	}
	out := dsrv1.Outcome_OUTCOME_DONE
	if len(p.unknown) > 0 || len(p.invalid) > 0 {
		out = dsrv1.Outcome_OUTCOME_PARTIAL
	}
	return holderkit.Result{Outcome: out, RecordsAffected: records, Reason: strings.Join(parts, "; ")}
}
