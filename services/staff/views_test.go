package staff

import (
	"strings"
	"testing"
	"time"
)

func TestFilterBuildsTheSavedViewQueries(t *testing.T) {
	now := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "ExecutionStatus = 'Running' AND DsrStage IS NOT NULL"},
		{Filter{Closed: true}, "DsrStage IS NOT NULL"},
		{Filter{Overdue: true}, "DsrAttention = 'overdue' AND ExecutionStatus = 'Running'"},
		{Filter{Attention: true, Kind: "deletion"}, "DsrNeedsAttention = true AND DsrKind = 'deletion' AND ExecutionStatus = 'Running'"},
		{Filter{Stage: "staff_review", Closed: true}, "DsrStage = 'staff_review'"},
		{Filter{DueWithin: 7 * 24 * time.Hour}, "DsrDueAt < '2026-12-03T01:00:00Z' AND ExecutionStatus = 'Running'"},
		{Filter{View: "due-this-week"}, "(ExecutionStatus = 'Running' AND DsrDueAt < '2026-12-03T01:00:00Z')"},
		{Filter{WaitingOnStaff: true}, "(ExecutionStatus = 'Running' AND (DsrStage IN ('identity_review', 'staff_review') OR DsrAttention IN ('holder_escalated', 'entrusted_instruction')))"},
	} {
		got, err := c.f.Query(now)
		if err != nil || got != c.want {
			t.Errorf("%+v.Query() = %q, %v\n want %q", c.f, got, err, c.want)
		}
	}
}

func TestFilterRefusesValuesThatWouldChangeTheQuery(t *testing.T) {
	for _, f := range []Filter{
		{Kind: "deletion' OR 1=1 --"},
		{Kind: "shred"},
		{Stage: "Staff Review"},
		{Receipt: "x' OR DsrKind != '"},
		{Jurisdiction: "jp"},
		{View: "everything"},
	} {
		if q, err := f.Query(time.Now()); err == nil {
			t.Errorf("%+v accepted: %s", f, q)
		}
	}
}

func TestEveryViewNamesOnlyRegisteredAttributes(t *testing.T) {
	for _, v := range Views {
		q := v.Expand(time.Now())
		if strings.Contains(q, "{") || v.Description == "" {
			t.Errorf("view %s: %q", v.Name, q)
		}
	}
}
