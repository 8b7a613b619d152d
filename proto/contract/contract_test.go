package contract

import (
	"testing"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

func TestEveryKindRoundTripsThroughItsAPIName(t *testing.T) {
	for v := range dsrv1.RequestKind_name {
		k := dsrv1.RequestKind(v)
		if k == dsrv1.RequestKind_REQUEST_KIND_UNSPECIFIED {
			continue
		}
		got, ok := ParseKind(KindName(k))
		if !ok || got != k {
			t.Errorf("ParseKind(KindName(%v)) = %v, %v", k, got, ok)
		}
	}
}

func TestParseKindRejectsUnknownAndOddSpellings(t *testing.T) {
	for _, s := range []string{"", "unspecified", "Deletion", "DELETION", "delete", "request_kind_deletion"} {
		if k, ok := ParseKind(s); ok {
			t.Errorf("ParseKind(%q) = %v, want rejection", s, k)
		}
	}
	if k, ok := ParseKind("third_party_record_disclosure"); !ok || k != dsrv1.RequestKind_REQUEST_KIND_THIRD_PARTY_RECORD_DISCLOSURE {
		t.Errorf("third_party_record_disclosure not parsed: %v %v", k, ok)
	}
}

func TestNamespacesKeepSubjectsAndStreamsApart(t *testing.T) {
	a, err := NewNamespace("t_one")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Command("members", ActionName(dsrv1.Action_ACTION_ERASE)); got != "t_one.commands.members.erase" {
		t.Errorf("command subject = %q", got)
	}
	if a.StreamRequests() != "T_ONE_REQUESTS" || Default.StreamRequests() != "DSR_REQUESTS" {
		t.Errorf("stream names = %q, %q", a.StreamRequests(), Default.StreamRequests())
	}
	for _, bad := range []string{"", "Dsr", "a.b", "a>", "1abc"} {
		if _, err := NewNamespace(bad); err == nil {
			t.Errorf("NewNamespace(%q) accepted", bad)
		}
	}
	if r, ok := ReceiptFromWorkflowID(WorkflowID("20261125-ABCDEF")); !ok || r != "20261125-ABCDEF" {
		t.Errorf("receipt round trip = %q %v", r, ok)
	}
}
