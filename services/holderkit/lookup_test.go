package holderkit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// pets is a tiny holder table: two members, a pet whose owner is known only
// by e-mail, and a second owner sharing nothing with the first.
const petsSchema = `
CREATE TABLE pets (pet_id text PRIMARY KEY, member_id text, email text NOT NULL, name text NOT NULL);
INSERT INTO pets VALUES
  ('P-1', 'M-1', 'Hanako@Example.jp', 'Pochi'),
  ('P-2', 'M-1', 'hanako@example.jp', 'Tama'),
  ('P-3', NULL,  'hanako@example.jp', 'Koro'),
  ('P-4', 'M-2', 'taro@example.jp',   'Shiro')`

var pets = holderkit.Lookup{
	Holder: "pets", Noun: "pets",
	FindSQL: `SELECT pet_id FROM pets
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2 AND ($1 = '' OR member_id IS NULL))
ORDER BY pet_id FOR UPDATE`,
	LocateSQL: `SELECT coalesce(member_id, ''), lower(email) FROM pets
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)`,
	Found: "pet found", Missing: "no pet matches",
}

func petsDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testinfra.Pool(t, "t_holderkit_lookup")
	if _, err := pool.Exec(context.Background(), petsSchema); err != nil {
		t.Fatal(err)
	}
	return pool
}

// inTx runs fn in a transaction that is rolled back, as a handler would run.
func inTx(t *testing.T, pool *pgxpool.Pool, fn func(ctx context.Context, tx pgx.Tx) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	return fn(ctx, tx)
}

func TestLookupLocateTellsMatchesFromMismatchesAndAbsence(t *testing.T) {
	t.Parallel()
	pool := petsDB(t)
	for _, tc := range []struct {
		name    string
		subject *dsrv1.Subject
		want    holderkit.Result
	}{
		{"both identifiers match", &dsrv1.Subject{MemberId: " M-1 ", Email: " HANAKO@example.jp"},
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: "pet found", RecordsAffected: 3}},
		{"member number alone", &dsrv1.Subject{MemberId: "M-2"},
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: "pet found", RecordsAffected: 1}},
		{"a record contradicts the e-mail", &dsrv1.Subject{MemberId: "M-1", Email: "taro@example.jp"},
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: "identifiers_mismatch", RecordsAffected: 0}},
		{"some match, one contradicts", &dsrv1.Subject{MemberId: "M-2", Email: "hanako@example.jp"},
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: "identifiers_mismatch", RecordsAffected: 1}},
		{"nobody", &dsrv1.Subject{MemberId: "M-9", Email: "nobody@example.jp"},
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no pet matches"}},
		{"no identifiers", &dsrv1.Subject{},
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no pet matches"}},
	} {
		var got holderkit.Result
		if err := inTx(t, pool, func(ctx context.Context, tx pgx.Tx) (err error) {
			got, err = pets.Locate(ctx, tx, holderkit.Command{Action: dsrv1.Action_ACTION_LOCATE, Subject: tc.subject})
			return err
		}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Outcome != tc.want.Outcome || got.Reason != tc.want.Reason || got.RecordsAffected != tc.want.RecordsAffected {
			t.Errorf("%s: got %v %q %d, want %v %q %d", tc.name, got.Outcome, got.Reason, got.RecordsAffected,
				tc.want.Outcome, tc.want.Reason, tc.want.RecordsAffected)
		}
	}
}

func TestLookupIDsAndExport(t *testing.T) {
	t.Parallel()
	pool := petsDB(t)
	export := pets.Export(`SELECT json_agg(name ORDER BY pet_id) FROM pets WHERE pet_id = ANY($1)`, "pets exported")
	for _, tc := range []struct {
		subject *dsrv1.Subject
		ids     string
		doc     string
	}{
		// By member number, plus the pet never linked to a member under the e-mail.
		{&dsrv1.Subject{MemberId: "M-1", Email: "hanako@example.jp"}, "P-1 P-2 P-3", `["Pochi", "Tama", "Koro"]`},
		{&dsrv1.Subject{Email: " Taro@Example.JP "}, "P-4", `["Shiro"]`},
		{&dsrv1.Subject{MemberId: "M-9"}, "", ""},
	} {
		var ids []string
		var res holderkit.Result
		if err := inTx(t, pool, func(ctx context.Context, tx pgx.Tx) (err error) {
			if ids, err = pets.IDs(ctx, tx, tc.subject); err != nil {
				return err
			}
			res, err = export(ctx, tx, holderkit.Command{Action: dsrv1.Action_ACTION_EXPORT, Subject: tc.subject})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(ids, " "); got != tc.ids {
			t.Errorf("IDs(%v) = %q, want %q", tc.subject, got, tc.ids)
		}
		want := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: "pets exported", RecordsAffected: len(ids)}
		if tc.ids == "" {
			want = pets.NotFound()
		}
		if res.Outcome != want.Outcome || res.Reason != want.Reason || res.RecordsAffected != want.RecordsAffected || string(res.Export) != tc.doc {
			t.Errorf("export(%v) = %v %q %d %s, want %v %q %d %s", tc.subject, res.Outcome, res.Reason, res.RecordsAffected, res.Export,
				want.Outcome, want.Reason, want.RecordsAffected, tc.doc)
		}
	}
}

// A database error names the holder and the operation but never quotes the
// statement's values: the server's message can contain them.
func TestLookupErrorsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	pool := petsDB(t)
	broken := pets
	// Casting the e-mail to a number fails, and PostgreSQL quotes the value.
	broken.FindSQL = `SELECT pet_id FROM pets WHERE member_id = $1 OR length(email) = $2::text::int`
	broken.LocateSQL = broken.FindSQL
	subject := &dsrv1.Subject{MemberId: "M-1", Email: "hanako@example.jp"}
	for op, call := range map[string]func(ctx context.Context, tx pgx.Tx) error{
		"pets: find pets: SQLSTATE 22P02": func(ctx context.Context, tx pgx.Tx) error {
			_, err := broken.IDs(ctx, tx, subject)
			return err
		},
		"pets: locate pets: SQLSTATE 22P02": func(ctx context.Context, tx pgx.Tx) error {
			_, err := broken.Locate(ctx, tx, holderkit.Command{Subject: subject})
			return err
		},
		"pets: export pets: SQLSTATE 42P01": func(ctx context.Context, tx pgx.Tx) error {
			_, err := pets.Export(`SELECT json_agg(x) FROM no_such_table WHERE $1::text[] IS NOT NULL`, "")(ctx, tx,
				holderkit.Command{Subject: subject})
			return err
		},
	} {
		err := inTx(t, pool, call)
		if err == nil || err.Error() != op {
			t.Errorf("error = %v, want %q", err, op)
		}
	}
}

func TestKeysAndAgrees(t *testing.T) {
	mid, email := holderkit.Keys(&dsrv1.Subject{MemberId: " M-1\t", Email: " Hanako@Example.JP\n"})
	if mid != "M-1" || email != "hanako@example.jp" {
		t.Errorf("Keys = %q, %q", mid, email)
	}
	if mid, email := holderkit.Keys(nil); mid != "" || email != "" {
		t.Errorf("Keys(nil) = %q, %q", mid, email)
	}
	for _, tc := range []struct {
		given, held string
		want        bool
	}{{"", "x", true}, {"x", "", true}, {"x", "x", true}, {"x", "y", false}} {
		if got := holderkit.Agrees(tc.given, tc.held); got != tc.want {
			t.Errorf("Agrees(%q, %q) = %v", tc.given, tc.held, got)
		}
	}
}
