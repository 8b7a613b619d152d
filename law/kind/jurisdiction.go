package kind

import (
	"errors"
	"fmt"
)

// Jurisdiction is the law a request is handled under. It decides deadlines,
// fees and which foreign right names are accepted.
type Jurisdiction string

// The jurisdictions. The values are public API values; never change them.
const (
	JP   Jurisdiction = "JP"    // APPI
	GDPR Jurisdiction = "EU"    // GDPR
	CCPA Jurisdiction = "US-CA" // CCPA as amended by CPRA
)

var (
	// ErrUnknownJurisdiction is returned (wrapped) for a string that is not a Jurisdiction.
	ErrUnknownJurisdiction = errors.New("kind: unknown jurisdiction")
	// ErrUnknownRight is returned (wrapped) by MapRight for a right the
	// jurisdiction does not define.
	ErrUnknownRight = errors.New("kind: unknown right for jurisdiction")
)

// Jurisdictions returns every Jurisdiction. A new slice each call.
func Jurisdictions() []Jurisdiction { return []Jurisdiction{JP, GDPR, CCPA} }

// ParseJurisdiction returns the Jurisdiction whose value is exactly s
// ("JP", "EU", "US-CA").
func ParseJurisdiction(s string) (Jurisdiction, error) {
	j := Jurisdiction(s)
	if !j.Valid() {
		return "", fmt.Errorf("%w: %q", ErrUnknownJurisdiction, s)
	}
	return j, nil
}

// Valid reports whether j is one of the defined jurisdictions.
func (j Jurisdiction) Valid() bool {
	switch j {
	case JP, GDPR, CCPA:
		return true
	}
	return false
}

// String returns the public value of j.
func (j Jurisdiction) String() string { return string(j) }

// Rights returns the right names MapRight accepts for j, in a stable order.
// For JP they are the Kind values themselves.
func Rights(j Jurisdiction) []string {
	switch j {
	case JP:
		out := make([]string, 0, 9)
		for _, k := range All() {
			out = append(out, string(k))
		}
		return out
	case GDPR:
		return []string{"access", "rectification", "erasure", "restriction", "portability", "objection"}
	case CCPA:
		return []string{"know", "delete", "correct", "opt_out"}
	}
	return nil
}

// MapRight maps a right as named under j onto the Kind the workflow handles.
// For JP the right is a Kind value. The mapping is lossy on purpose (e.g.
// GDPR portability is handled as a disclosure whose output format is chosen
// later), so callers should keep the original right name alongside the Kind.
func MapRight(j Jurisdiction, right string) (Kind, error) {
	switch j {
	case JP:
		k, err := Parse(right)
		if err != nil {
			return "", fmt.Errorf("%w: %s %q", ErrUnknownRight, j, right)
		}
		return k, nil
	case GDPR:
		switch right {
		case "access", "portability":
			return Disclosure, nil
		case "rectification":
			return Correction, nil
		case "erasure":
			return Erasure, nil
		case "restriction", "objection":
			return Suspension, nil
		}
	case CCPA:
		switch right {
		case "know":
			return Disclosure, nil
		case "delete":
			return Deletion, nil
		case "correct":
			return Correction, nil
		case "opt_out":
			return ThirdPartyStop, nil
		}
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownJurisdiction, string(j))
	}
	return "", fmt.Errorf("%w: %s %q", ErrUnknownRight, j, right)
}
