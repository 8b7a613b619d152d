package holderkit

// Looking a person up in a holder's own tables, and the binding rule.
//
// Every holder is asked about the same person by the same two identifiers
// (member number and e-mail address) and most keep them on one "subject"
// table (accounts, subscribers, linked members, ...). Finding those rows,
// deciding which of them the requester has shown to be theirs, and
// answering "not found" are the same logic in each of them, and must stay
// the same: a holder that trimmed or lower-cased differently, or counted a
// record that merely does not contradict the typed identifiers as the
// requester's, would disclose or change another person's data. Lookup and
// Command.Covers are that logic once; the SQL and the wording stay with
// each holder.
//
// The binding rule: a record is acted on only when (a) it holds the e-mail
// address whose control the requester proved with a code, or it is linked
// by member number to a member record that holds it (a member registry
// confirmed the number), or (b) staff approved an identity review. A typed
// member number, name or phone number proves nothing, and an identifier
// that is empty on file never agrees with anything.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// ReasonUnconfirmed is the reason of a PARTIAL locate: some records found
// by the identifiers are not covered by the proven contact. Its value is
// the one workflows recorded before the binding rule send to identity
// review, so requests in flight at an upgrade go there too.
const ReasonUnconfirmed = "identifiers_mismatch"

// Keys returns the identifiers a subject is looked up by: the member number,
// trimmed, and the e-mail address, trimmed and lower-cased. Either may be "".
func Keys(s *dsrv1.Subject) (memberID, email string) {
	return strings.TrimSpace(s.GetMemberId()), normalEmail(s.GetEmail())
}

func normalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Binding is what the workflow established about the requester
// (dsr.v1.Binding).
type Binding struct {
	// ProvenEmail is the address whose control the requester proved.
	ProvenEmail string
	// MemberConfirmed: a member registry found the subject's member number
	// on a member record holding ProvenEmail.
	MemberConfirmed bool
	// IdentityReviewed: staff checked the requester's documents.
	IdentityReviewed bool
}

// Covers reports whether a record holding heldMemberID and heldEmail may be
// exported, changed or erased for cmd under the binding rule. The record
// must also have been found by cmd's identifiers (the holder's query).
func (c Command) Covers(heldMemberID, heldEmail string) bool {
	b := c.Binding
	if b.IdentityReviewed {
		return true
	}
	if e := normalEmail(heldEmail); e != "" && e == normalEmail(b.ProvenEmail) {
		return true
	}
	mid, _ := Keys(c.Subject)
	held := strings.TrimSpace(heldMemberID)
	return b.MemberConfirmed && mid != "" && held == mid
}

// Tally counts the records a locate found: those the command's binding
// covers, the rest (unconfirmed), and, for a member registry, whether the
// subject's member record holds the proven contact.
type Tally struct {
	cmd            Command
	memberRegistry bool
	Confirmed      int
	Unconfirmed    int
	// MemberConfirmed is only ever set for a member registry.
	MemberConfirmed bool
}

// Tally starts counting cmd's located records; memberRegistry says that
// the holder's records are the member register itself.
func (c Command) Tally(memberRegistry bool) *Tally {
	return &Tally{cmd: c, memberRegistry: memberRegistry}
}

// Add counts one located record and reports whether it is covered.
func (t *Tally) Add(heldMemberID, heldEmail string) bool {
	mid, _ := Keys(t.cmd.Subject)
	proven := normalEmail(t.cmd.Binding.ProvenEmail)
	if t.memberRegistry && mid != "" && strings.TrimSpace(heldMemberID) == mid &&
		proven != "" && normalEmail(heldEmail) == proven {
		t.MemberConfirmed = true
	}
	if t.cmd.Covers(heldMemberID, heldEmail) {
		t.Confirmed++
		return true
	}
	t.Unconfirmed++
	return false
}

// Result is the locate's answer: PARTIAL (ReasonUnconfirmed) when any
// record is unconfirmed, DONE with found when every record is covered,
// NOT_FOUND with missing when there is none. Counts travel with it; the
// records themselves never do.
func (t *Tally) Result(found, missing string) Result {
	r := Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: found, RecordsAffected: t.Confirmed,
		Unconfirmed: t.Unconfirmed, MemberConfirmed: t.MemberConfirmed}
	switch {
	case t.Unconfirmed > 0:
		r.Outcome, r.Reason = dsrv1.Outcome_OUTCOME_PARTIAL, ReasonUnconfirmed
	case t.Confirmed == 0:
		r.Outcome, r.Reason = dsrv1.Outcome_OUTCOME_NOT_FOUND, missing
	}
	return r
}

// DBError wraps a holder's database error with the holder's name and the
// operation, and without the server's message, which can quote the values
// (personal data) of the statement: a server error keeps only its SQLSTATE.
func DBError(holder, op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("%s: %s: SQLSTATE %s", holder, op, pgErr.Code)
	}
	return fmt.Errorf("%s: %s: %w", holder, op, err)
}

// Lookup finds a person's rows on a holder's subject table. Its queries take
// $1 the member number and $2 the e-mail address as Keys returns them.
type Lookup struct {
	// Holder is the holder's name, the first word of every error.
	Holder string
	// Noun names the rows in errors, e.g. "accounts": "find accounts",
	// "locate accounts", "export accounts".
	Noun string
	// FindSQL selects the rows a command may act on as (id, member number
	// or '', e-mail address or ''), and should lock them (FOR UPDATE); IDs
	// keeps those the command's binding covers.
	FindSQL string
	// LocateSQL selects every row matching either identifier as
	// (member number or '', e-mail address or '').
	LocateSQL string
	// MemberRegistry says that these rows are the member register: a row
	// of the subject's member number holding the proven contact confirms
	// the number for every holder (Binding.MemberConfirmed).
	MemberRegistry bool
	// Found is the reason of a locate that found only matching rows.
	Found string
	// Missing is the reason of NotFound.
	Missing string
}

// NotFound is the result of a command for a person the holder does not hold.
func (l Lookup) NotFound() Result {
	return Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: l.Missing}
}

// IDs returns the ids of the rows the FindSQL query selects for cmd that
// its binding covers, none when there is no such row.
func (l Lookup) IDs(ctx context.Context, tx pgx.Tx, cmd Command) ([]string, error) {
	mid, email := Keys(cmd.Subject)
	rows, err := tx.Query(ctx, l.FindSQL, mid, email)
	if err != nil {
		return nil, l.err("find", err)
	}
	var ids []string
	var id, rowMID, rowEmail string
	if _, err := pgx.ForEachRow(rows, []any{&id, &rowMID, &rowEmail}, func() error {
		if cmd.Covers(rowMID, rowEmail) {
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		return nil, l.err("find", err)
	}
	return ids, nil
}

// Locate is the holder's ACTION_LOCATE handler. It acts on nothing; it
// tallies the rows that match either identifier under the command's
// binding (Tally.Result).
func (l Lookup) Locate(ctx context.Context, tx pgx.Tx, cmd Command) (Result, error) {
	mid, email := Keys(cmd.Subject)
	rows, err := tx.Query(ctx, l.LocateSQL, mid, email)
	if err != nil {
		return Result{}, l.err("locate", err)
	}
	t := cmd.Tally(l.MemberRegistry)
	var rowMID, rowEmail string
	if _, err := pgx.ForEachRow(rows, []any{&rowMID, &rowEmail}, func() error {
		t.Add(rowMID, rowEmail)
		return nil
	}); err != nil {
		return Result{}, l.err("locate", err)
	}
	return t.Result(l.Found, l.Missing), nil
}

// Export returns an ACTION_EXPORT handler: it finds the ids, runs query with
// them as $1 for one JSON document, and reports it DONE with reason, one
// record per id; NotFound when there are no ids.
func (l Lookup) Export(query, reason string) HandlerFunc {
	return func(ctx context.Context, tx pgx.Tx, cmd Command) (Result, error) {
		ids, err := l.IDs(ctx, tx, cmd)
		if err != nil {
			return Result{}, err
		}
		if len(ids) == 0 {
			return l.NotFound(), nil
		}
		var doc json.RawMessage
		if err := tx.QueryRow(ctx, query, ids).Scan(&doc); err != nil {
			return Result{}, l.err("export", err)
		}
		return Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: len(ids), Export: doc, Reason: reason}, nil
	}
}

func (l Lookup) err(verb string, err error) error {
	return DBError(l.Holder, verb+" "+l.Noun, err)
}

// Date reads a SQL date rendered as text ("2033-03-31"); anything else is
// the zero time, which a result reports as "no date".
func Date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
