package staff

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"madoguchi.dev/proto/contract"
)

// View is a saved search staff use in the Temporal UI ("Saved Views") and
// with `temporal workflow list --query` / `dsrctl list --view NAME`.
type View struct {
	Name        string
	Description string
	// Query is the Temporal visibility query. "{now}" and "{week}" are
	// replaced by the current time and seven days later (RFC 3339, UTC).
	Query string
}

// Views are the saved views of the runbook (README, "Staff runbook").
var Views = []View{
	{"open", "every request still in progress",
		"ExecutionStatus = 'Running' AND " + contract.SAStage + " IS NOT NULL"},
	{"overdue", "past the due date: answer now, or extend if still allowed",
		contract.SAAttention + " = '" + contract.AttentionOverdue + "'"},
	{"deadline-near", "the warning date has passed",
		contract.SAAttention + " = '" + contract.AttentionDeadlineNear + "'"},
	{"waiting-on-staff", "identity review, decision, escalated holder or entrusting company's instruction to record",
		"ExecutionStatus = 'Running' AND (" + contract.SAStage + " IN ('" + contract.StageIdentityReview + "', '" + contract.StageStaffReview + "') OR " +
			contract.SAAttention + " IN ('" + contract.AttentionHolderEscalated + "', '" + contract.AttentionEntrusted + "'))"},
	{"needs-attention", "any reason for staff to look",
		contract.SANeedsAttention + " = true"},
	{"identity-review", "agent filings and mismatched details: approve or reject the identity",
		contract.SAStage + " = '" + contract.StageIdentityReview + "'"},
	{"staff-review", "decisions to make (approve, refuse, corrections)",
		contract.SAStage + " = '" + contract.StageStaffReview + "'"},
	{"awaiting-fee", "fee asked for, not yet paid",
		contract.SAStage + " = '" + contract.StageAwaitingFee + "'"},
	{"holder-escalated", "a holder did not answer after its retries: retry it or fix the holder",
		contract.SAAttention + " = '" + contract.AttentionHolderEscalated + "'"},
	{"entrusted", "waiting for an entrusting company's instruction",
		contract.SAAttention + " = '" + contract.AttentionEntrusted + "'"},
	{"due-this-week", "open requests due within seven days",
		"ExecutionStatus = 'Running' AND " + contract.SADueAt + " < '{week}'"},
}

// LookupView finds a saved view by name.
func LookupView(name string) (View, bool) {
	for _, v := range Views {
		if v.Name == name {
			return v, true
		}
	}
	return View{}, false
}

// Expand fills in the time placeholders.
func (v View) Expand(now time.Time) string {
	r := strings.NewReplacer("{now}", now.UTC().Format(time.RFC3339), "{week}", now.Add(7*24*time.Hour).UTC().Format(time.RFC3339))
	return r.Replace(v.Query)
}

// Filter is what `dsrctl list` asks for; set fields are ANDed.
type Filter struct {
	View           string
	Overdue        bool
	Attention      bool
	WaitingOnStaff bool
	Kind           string
	Stage          string
	Jurisdiction   string
	Receipt        string
	SubjectRef     string
	// DueWithin keeps requests due before now + DueWithin (0: no limit).
	DueWithin time.Duration
	// Closed includes completed and closed requests (default: running only).
	Closed bool
	// Limit caps the rows (default 200).
	Limit int
}

var (
	tokenRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)
	receiptRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,40}$`)
	refRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	jurisRE   = regexp.MustCompile(`^[A-Z]{2}(-[A-Z]{2})?$`)
)

// Query builds the visibility query. Values are checked against strict
// patterns, so that nothing typed on the command line can change the query's
// shape.
func (f Filter) Query(now time.Time) (string, error) {
	var and []string
	add := func(clause string) { and = append(and, clause) }
	if f.View != "" {
		v, ok := LookupView(f.View)
		if !ok {
			return "", fmt.Errorf("unknown view %q (see `dsrctl views`)", f.View)
		}
		add("(" + v.Expand(now) + ")")
	}
	if f.Overdue {
		add(contract.SAAttention + " = '" + contract.AttentionOverdue + "'")
	}
	if f.Attention {
		add(contract.SANeedsAttention + " = true")
	}
	if f.WaitingOnStaff {
		v, _ := LookupView("waiting-on-staff")
		add("(" + v.Expand(now) + ")")
	}
	eq := func(name, value string, re *regexp.Regexp, what string) error {
		if value == "" {
			return nil
		}
		if !re.MatchString(value) {
			return fmt.Errorf("%s %q is not valid", what, value)
		}
		add(fmt.Sprintf("%s = '%s'", name, value))
		return nil
	}
	if f.Kind != "" {
		if _, ok := contract.ParseKind(f.Kind); !ok {
			return "", fmt.Errorf("unknown kind %q", f.Kind)
		}
	}
	for _, c := range []struct {
		name, value string
		re          *regexp.Regexp
		what        string
	}{
		{contract.SAKind, f.Kind, tokenRE, "kind"},
		{contract.SAStage, f.Stage, tokenRE, "stage"},
		{contract.SAJurisdiction, f.Jurisdiction, jurisRE, "jurisdiction"},
		{contract.SAReceipt, f.Receipt, receiptRE, "receipt"},
		{contract.SASubjectRef, f.SubjectRef, refRE, "subject reference"},
	} {
		if err := eq(c.name, c.value, c.re, c.what); err != nil {
			return "", err
		}
	}
	if f.DueWithin > 0 {
		add(fmt.Sprintf("%s < '%s'", contract.SADueAt, now.Add(f.DueWithin).UTC().Format(time.RFC3339)))
	}
	if !f.Closed && f.View == "" && !f.WaitingOnStaff {
		add("ExecutionStatus = 'Running'")
	}
	if len(and) == 0 || (len(and) == 1 && and[0] == "ExecutionStatus = 'Running'") {
		add(contract.SAStage + " IS NOT NULL")
	}
	return strings.Join(and, " AND "), nil
}
