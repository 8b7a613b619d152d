package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/services/staff"
)

// jst: staff work in Japan time; the due dates are Japanese business days.
var jst = time.FixedZone("JST", 9*60*60)

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(jst).Format("2006-01-02")
}

func minute(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(jst).Format("2006-01-02 15:04")
}

func pbTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printSummaries(w io.Writer, rows []staff.Summary) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no requests match")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIPT\tKIND\tJUR\tSTAGE\tDUE\tATTENTION\tFEE\tSTATUS")
	for _, r := range rows {
		due := day(r.DueAt)
		if r.Overdue() {
			due += " !"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Receipt, orDash(r.Kind), orDash(r.Jurisdiction),
			orDash(r.Stage), due, orDash(strings.Join(r.Attention, ",")), orDash(r.FeeState), r.Status)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d request(s)\n", len(rows))
}

func printViews(w io.Writer, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VIEW\tWHAT\tQUERY")
	for _, v := range staff.Views {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Description, v.Expand(now))
	}
	_ = tw.Flush()
}

func printDetails(w io.Writer, d *staff.Details) {
	s := d.Status
	fmt.Fprintf(w, "Request %s  (workflow dsr-%s, %s)\n", s.GetReceipt(), s.GetReceipt(), d.ExecutionStatus)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	kind := s.GetKind() + " (" + s.GetJurisdiction() + ")"
	if s.GetFiledByAgent() {
		kind += ", filed by an agent"
	}
	row("kind", kind)
	stage := s.GetStage()
	if s.GetWaitingFor() != "" {
		stage += " — waiting for " + s.GetWaitingFor()
	}
	row("stage", stage)
	row("received", minute(pbTime(s.GetReceivedAt())))
	due := day(pbTime(s.GetDueAt()))
	if s.GetExtended() {
		due += " (extended: " + s.GetExtensionReason() + ")"
	}
	row("due", due)
	row("attention", orDash(strings.Join(s.GetAttention(), ", ")))
	row("verification", orDash(s.GetVerification().GetState()))
	if f := s.GetFee(); f.GetRequired() {
		row("fee", fmt.Sprintf("%d JPY, %s (pay by %s)", f.GetAmountJpy(), f.GetState(), day(pbTime(f.GetDueAt()))))
	} else {
		row("fee", "none")
	}
	if s.GetDecision() != "" {
		row("decision", s.GetDecision()+" "+s.GetDecisionReasonCode())
	}
	if s.GetClosedReason() != "" {
		row("closed", s.GetClosedReason())
	}
	if s.GetWithdrawn() {
		row("withdrawn", "yes")
	}
	if len(s.GetLinkedReceipts()) > 0 {
		row("linked", strings.Join(s.GetLinkedReceipts(), ", "))
	}
	if id := s.GetPackageId(); id != "" {
		row("package", fmt.Sprintf("%s…, expires %s", id[:min(12, len(id))], minute(pbTime(s.GetPackageExpiresAt()))))
		switch p := d.Package; {
		case p != nil:
			last := "never"
			if p.GetLastDownloadAt() != nil {
				last = "last " + minute(pbTime(p.GetLastDownloadAt()))
			}
			state := ""
			if p.GetPurged() {
				state = ", purged"
			}
			row("downloads", fmt.Sprintf("%d (%s); codes sent %d, %d left%s", p.GetDownloads(), last,
				p.GetCodesIssued(), p.GetCodesLeft(), state))
		case d.PackageUnavailable != "":
			row("downloads", "unknown: "+d.PackageUnavailable)
		default:
			row("downloads", "not counted (link-only package of an older request)")
		}
	}
	_ = tw.Flush()
	if len(s.GetHolders()) > 0 {
		fmt.Fprintln(w, "Holders")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, h := range s.GetHolders() {
			flag := ""
			if h.GetEscalated() {
				flag = "ESCALATED"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\tattempts %d\t%s\t%s\n", h.GetName(), h.GetAction(),
				orDash(h.GetOutcome()), h.GetAttempts(), h.GetReason(), flag)
		}
		_ = tw.Flush()
	}
	if len(s.GetEntrusted()) > 0 {
		fmt.Fprintln(w, "Entrusting companies (委託元)")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, e := range s.GetEntrusted() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\tdue %s\tholders %s\n", e.GetCompanyId(), e.GetCompanyName(), e.GetState(),
				day(pbTime(e.GetDueAt())), strings.Join(e.GetHolders(), ","))
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(w, "Timeline")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range s.GetTimeline() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", minute(pbTime(e.GetAt())), e.GetEvent(), e.GetActor(), e.GetDetail())
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "Staff actions (audit log)")
	if len(d.Audit) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	printAudit(w, d.Audit, false)
}

func printAudit(w io.Writer, rows []staff.AuditEntry, withReceipt bool) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no audit rows")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range rows {
		receipt := ""
		if withReceipt {
			receipt = orDash(e.Receipt) + "\t"
		}
		fmt.Fprintf(tw, "  #%d\t%s\t%s%s\t%s\t%s\t%s\t%s\n", e.ID, minute(e.At), receipt, e.Actor, e.Action,
			e.Result, fields(e.Fields), message(e))
	}
	_ = tw.Flush()
}

func fields(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v, _ := json.Marshal(m[k])
		parts = append(parts, k+"="+strings.Trim(string(v), `"`))
	}
	return orDash(strings.Join(parts, " "))
}

func message(e staff.AuditEntry) string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, "why: "+e.Reason)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	return strings.Join(parts, " — ")
}

func printAccounts(w io.Writer, accts []staff.Account) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tSTATE")
	for _, a := range accts {
		state := "active"
		if a.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.DisplayName, a.Role, day(a.CreatedAt), state)
	}
	_ = tw.Flush()
}
