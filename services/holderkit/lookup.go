package holderkit

// Looking a person up in a holder's own tables.
//
// Every holder is asked about the same person by the same two identifiers
// (member number and e-mail address) and most keep them on one "subject"
// table (accounts, subscribers, linked members, ...). Finding those rows,
// telling a matching record from one that contradicts an identifier, and
// answering "not found" are the same logic in each of them, and must stay the
// same: a holder that trimmed or lower-cased differently, or counted a
// contradicting record as a match, would act on the wrong person. Lookup is
// that logic once; the SQL and the wording stay with each holder.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// ReasonIdentifiersMismatch is the reason of a PARTIAL locate: some record
// matches one identifier given but contradicts another.
const ReasonIdentifiersMismatch = "identifiers_mismatch"

// Keys returns the identifiers a subject is looked up by: the member number,
// trimmed, and the e-mail address, trimmed and lower-cased. Either may be "".
func Keys(s *dsrv1.Subject) (memberID, email string) {
	return strings.TrimSpace(s.GetMemberId()), strings.ToLower(strings.TrimSpace(s.GetEmail()))
}

// Agrees reports whether a held identifier does not contradict a given one:
// it does unless both are known and differ.
func Agrees(given, held string) bool { return given == "" || held == "" || given == held }

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
	// FindSQL selects the ids of the rows a command acts on, one text
	// column, and should lock them (FOR UPDATE).
	FindSQL string
	// LocateSQL selects every row matching either identifier as
	// (member number or '', lower-cased e-mail address or '').
	LocateSQL string
	// Found is the reason of a locate that found only matching rows.
	Found string
	// Missing is the reason of NotFound.
	Missing string
}

// NotFound is the result of a command for a person the holder does not hold.
func (l Lookup) NotFound() Result {
	return Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: l.Missing}
}

// IDs returns the ids the FindSQL query selects for s, none when it selects no row.
func (l Lookup) IDs(ctx context.Context, tx pgx.Tx, s *dsrv1.Subject) ([]string, error) {
	mid, email := Keys(s)
	rows, err := tx.Query(ctx, l.FindSQL, mid, email)
	if err != nil {
		return nil, l.err("find", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, l.err("find", err)
	}
	return ids, nil
}

// Locate is the holder's ACTION_LOCATE handler. It acts on nothing;
// it counts the rows that match the command's identifiers and those that
// contradict one of them: any contradiction is PARTIAL
// (ReasonIdentifiersMismatch, counting the matches), else matches are DONE
// (Found), else NotFound.
func (l Lookup) Locate(ctx context.Context, tx pgx.Tx, cmd Command) (Result, error) {
	mid, email := Keys(cmd.Subject)
	rows, err := tx.Query(ctx, l.LocateSQL, mid, email)
	if err != nil {
		return Result{}, l.err("locate", err)
	}
	var matched, mismatched int
	var rowMID, rowEmail string
	if _, err := pgx.ForEachRow(rows, []any{&rowMID, &rowEmail}, func() error {
		if Agrees(mid, rowMID) && Agrees(email, rowEmail) {
			matched++
		} else {
			mismatched++
		}
		return nil
	}); err != nil {
		return Result{}, l.err("locate", err)
	}
	switch {
	case mismatched > 0:
		return Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: ReasonIdentifiersMismatch, RecordsAffected: matched}, nil
	case matched > 0:
		return Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: l.Found, RecordsAffected: matched}, nil
	}
	return l.NotFound(), nil
}

// Export returns an ACTION_EXPORT handler: it finds the ids, runs query with
// them as $1 for one JSON document, and reports it DONE with reason, one
// record per id; NotFound when there are no ids.
func (l Lookup) Export(query, reason string) HandlerFunc {
	return func(ctx context.Context, tx pgx.Tx, cmd Command) (Result, error) {
		ids, err := l.IDs(ctx, tx, cmd.Subject)
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
