package contract

import (
	"strings"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// KindName is the public API spelling of a request kind ("third_party_stop").
func KindName(k dsrv1.RequestKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "REQUEST_KIND_"))
}

// ParseKind reads the public API spelling; UNSPECIFIED is not a kind.
func ParseKind(s string) (dsrv1.RequestKind, bool) {
	v, ok := dsrv1.RequestKind_value["REQUEST_KIND_"+strings.ToUpper(s)]
	if !ok || v == 0 || strings.ToLower(s) != s {
		return 0, false
	}
	return dsrv1.RequestKind(v), true
}

// ActionName is the subject token of an action ("erase", "export_provision_records").
func ActionName(a dsrv1.Action) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

// ParseAction reads an action's subject token.
func ParseAction(s string) (dsrv1.Action, bool) {
	v, ok := dsrv1.Action_value["ACTION_"+strings.ToUpper(s)]
	if !ok || v == 0 || strings.ToLower(s) != s {
		return 0, false
	}
	return dsrv1.Action(v), true
}

// Jurisdictions the intake accepts.
const (
	JurisdictionJP   = "JP"
	JurisdictionGDPR = "EU"
	JurisdictionCCPA = "US-CA"
)
