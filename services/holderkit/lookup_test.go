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
// by e-mail, a second owner sharing nothing with the first, and a pet kept
// for a member whose contact was blanked (as retained-by-law records are).
const petsSchema = `
CREATE TABLE pets (pet_id text PRIMARY KEY, member_id text, email text NOT NULL, name text NOT NULL);
INSERT INTO pets VALUES
  ('P-1', 'M-1', 'Hanako@Example.jp', 'Pochi'),
  ('P-2', 'M-1', 'hanako@example.jp', 'Tama'),
  ('P-3', NULL,  'hanako@example.jp', 'Koro'),
  ('P-4', 'M-2', 'taro@example.jp',   'Shiro'),
  ('P-5', 'M-3', '',                  'Mike')`

var pets = holderkit.Lookup{
	Holder: "pets", Noun: "pets",
	FindSQL: `SELECT pet_id, coalesce(member_id, ''), email FROM pets
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2 AND ($1 = '' OR member_id IS NULL))
ORDER BY pet_id FOR UPDATE`,
	LocateSQL: `SELECT coalesce(member_id, ''), email FROM pets
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)`,
	Found: "pet found", Missing: "no pet matches",
}

// cmd is a command for subject from a requester who proved control of
// proven (and, where given, more).
func cmd(action dsrv1.Action, subject *dsrv1.Subject, b holderkit.Binding) holderkit.Command {
	return holderkit.Command{Action: action, Subject: subject, Binding: b}
}

func proved(email string) holderkit.Binding { return holderkit.Binding{ProvenEmail: email} }

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

func TestLocateCountsAsTheRequestersOnlyTheRecordsHoldingTheProvenAddress(t *testing.T) {
	t.Parallel()
	pool := petsDB(t)
	hanako := &dsrv1.Subject{MemberId: " M-1 ", Email: " HANAKO@example.jp"}
	for _, tc := range []struct {
		name    string
		command holderkit.Command
		want    holderkit.Result
	}{
		{"member number and the proven address on every record", cmd(dsrv1.Action_ACTION_LOCATE, hanako, proved("hanako@example.jp")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: "pet found", RecordsAffected: 3}},
		{"the proven address alone", cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{Email: "Taro@example.jp"}, proved("taro@example.jp")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: "pet found", RecordsAffected: 1}},
		{"someone else's member number with the requester's own address",
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1", Email: "mallory@example.jp"}, proved("mallory@example.jp")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: holderkit.ReasonUnconfirmed, Unconfirmed: 2}},
		{"a record whose contact is blank agrees with no address",
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-3", Email: "mallory@example.jp"}, proved("mallory@example.jp")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: holderkit.ReasonUnconfirmed, Unconfirmed: 1}},
		{"an agent proved only their own address", cmd(dsrv1.Action_ACTION_LOCATE, hanako, proved("")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: holderkit.ReasonUnconfirmed, Unconfirmed: 3}},
		{"some covered, one found by the typed member number only",
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-2", Email: "hanako@example.jp"}, proved("hanako@example.jp")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_PARTIAL, Reason: holderkit.ReasonUnconfirmed, RecordsAffected: 3, Unconfirmed: 1}},
		{"nobody", cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-9", Email: "nobody@example.jp"}, proved("nobody@example.jp")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no pet matches"}},
		{"no identifiers", cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{}, proved("")),
			holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no pet matches"}},
	} {
		var got holderkit.Result
		if err := inTx(t, pool, func(ctx context.Context, tx pgx.Tx) (err error) {
			got, err = pets.Locate(ctx, tx, tc.command)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Outcome != tc.want.Outcome || got.Reason != tc.want.Reason || got.RecordsAffected != tc.want.RecordsAffected ||
			got.Unconfirmed != tc.want.Unconfirmed || got.MemberConfirmed {
			t.Errorf("%s: got %v %q covered %d unconfirmed %d member %v, want %v %q covered %d unconfirmed %d member false",
				tc.name, got.Outcome, got.Reason, got.RecordsAffected, got.Unconfirmed, got.MemberConfirmed,
				tc.want.Outcome, tc.want.Reason, tc.want.RecordsAffected, tc.want.Unconfirmed)
		}
	}
}

func TestOnlyAMemberRegistryConfirmsAMemberNumberAndOnlyByTheProvenAddress(t *testing.T) {
	t.Parallel()
	pool := petsDB(t)
	registry := pets
	registry.MemberRegistry = true
	for _, tc := range []struct {
		name    string
		lookup  holderkit.Lookup
		command holderkit.Command
		want    bool
	}{
		{"registry, member record holds the proven address", registry,
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1", Email: "hanako@example.jp"}, proved("hanako@example.jp")), true},
		{"registry, another address proven", registry,
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1", Email: "mallory@example.jp"}, proved("mallory@example.jp")), false},
		{"registry, the member record's contact is blank", registry,
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-3"}, proved("")), false},
		{"registry, no member number typed", registry,
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{Email: "hanako@example.jp"}, proved("hanako@example.jp")), false},
		{"not a registry", pets,
			cmd(dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1", Email: "hanako@example.jp"}, proved("hanako@example.jp")), false},
	} {
		var got holderkit.Result
		if err := inTx(t, pool, func(ctx context.Context, tx pgx.Tx) (err error) {
			got, err = tc.lookup.Locate(ctx, tx, tc.command)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.MemberConfirmed != tc.want {
			t.Errorf("%s: member confirmed = %v, want %v", tc.name, got.MemberConfirmed, tc.want)
		}
	}
}

func TestCommandsActOnlyOnTheRecordsTheBindingCovers(t *testing.T) {
	t.Parallel()
	pool := petsDB(t)
	export := pets.Export(`SELECT json_agg(name ORDER BY pet_id) FROM pets WHERE pet_id = ANY($1)`, "pets exported")
	mallory := &dsrv1.Subject{MemberId: "M-1", Email: "mallory@example.jp"}
	for _, tc := range []struct {
		name    string
		command holderkit.Command
		ids     string
		doc     string
	}{
		// By member number, plus the pet never linked to a member under the e-mail.
		{"the member's own address", cmd(dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-1", Email: "hanako@example.jp"},
			proved("hanako@example.jp")), "P-1 P-2 P-3", `["Pochi", "Tama", "Koro"]`},
		{"an address alone", cmd(dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{Email: " Taro@Example.JP "}, proved("taro@example.jp")),
			"P-4", `["Shiro"]`},
		{"someone else's member number", cmd(dsrv1.Action_ACTION_EXPORT, mallory, proved("mallory@example.jp")), "", ""},
		{"a blank contact on file", cmd(dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-3", Email: "mallory@example.jp"},
			proved("mallory@example.jp")), "", ""},
		{"a member number the member registry confirmed", cmd(dsrv1.Action_ACTION_EXPORT, mallory,
			holderkit.Binding{ProvenEmail: "mallory@example.jp", MemberConfirmed: true}), "P-1 P-2", `["Pochi", "Tama"]`},
		{"staff approved an identity review", cmd(dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-3"},
			holderkit.Binding{IdentityReviewed: true}), "P-5", `["Mike"]`},
		{"nobody", cmd(dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-9"}, holderkit.Binding{IdentityReviewed: true}), "", ""},
	} {
		var ids []string
		var res holderkit.Result
		if err := inTx(t, pool, func(ctx context.Context, tx pgx.Tx) (err error) {
			if ids, err = pets.IDs(ctx, tx, tc.command); err != nil {
				return err
			}
			res, err = export(ctx, tx, tc.command)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(ids, " "); got != tc.ids {
			t.Errorf("%s: IDs = %q, want %q", tc.name, got, tc.ids)
		}
		want := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, Reason: "pets exported", RecordsAffected: len(ids)}
		if tc.ids == "" {
			want = pets.NotFound()
		}
		if res.Outcome != want.Outcome || res.Reason != want.Reason || res.RecordsAffected != want.RecordsAffected || string(res.Export) != tc.doc {
			t.Errorf("%s: export = %v %q %d %s, want %v %q %d %s", tc.name, res.Outcome, res.Reason, res.RecordsAffected, res.Export,
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
	broken.FindSQL = `SELECT pet_id, member_id, email FROM pets WHERE member_id = $1 OR length(email) = $2::text::int`
	broken.LocateSQL = `SELECT member_id, email FROM pets WHERE member_id = $1 OR length(email) = $2::text::int`
	subject := &dsrv1.Subject{MemberId: "M-1", Email: "hanako@example.jp"}
	for op, call := range map[string]func(ctx context.Context, tx pgx.Tx) error{
		"pets: find pets: SQLSTATE 22P02": func(ctx context.Context, tx pgx.Tx) error {
			_, err := broken.IDs(ctx, tx, holderkit.Command{Subject: subject})
			return err
		},
		"pets: locate pets: SQLSTATE 22P02": func(ctx context.Context, tx pgx.Tx) error {
			_, err := broken.Locate(ctx, tx, holderkit.Command{Subject: subject})
			return err
		},
		"pets: export pets: SQLSTATE 42P01": func(ctx context.Context, tx pgx.Tx) error {
			_, err := pets.Export(`SELECT json_agg(x) FROM no_such_table WHERE $1::text[] IS NOT NULL`, "")(ctx, tx,
				cmd(dsrv1.Action_ACTION_EXPORT, subject, proved("hanako@example.jp")))
			return err
		},
	} {
		err := inTx(t, pool, call)
		if err == nil || err.Error() != op {
			t.Errorf("error = %v, want %q", err, op)
		}
	}
}

func TestKeysNormaliseAndAnIdentifierEmptyOnFileNeverAgrees(t *testing.T) {
	mid, email := holderkit.Keys(&dsrv1.Subject{MemberId: " M-1\t", Email: " Hanako@Example.JP\n"})
	if mid != "M-1" || email != "hanako@example.jp" {
		t.Errorf("Keys = %q, %q", mid, email)
	}
	if mid, email := holderkit.Keys(nil); mid != "" || email != "" {
		t.Errorf("Keys(nil) = %q, %q", mid, email)
	}
	typed := &dsrv1.Subject{MemberId: "M-1", Email: "mallory@example.jp"}
	for _, tc := range []struct {
		name              string
		binding           holderkit.Binding
		heldMID, heldMail string
		want              bool
	}{
		{"the proven address, spelled otherwise", proved("Hanako@example.jp "), "M-1", " HANAKO@example.jp", true},
		{"another address", proved("mallory@example.jp"), "M-1", "hanako@example.jp", false},
		{"a blank address on file", proved("mallory@example.jp"), "M-1", "", false},
		{"nothing proven, nothing on file", proved(""), "M-1", "", false},
		{"the typed member number, unconfirmed", proved("mallory@example.jp"), "M-1", "x@example.jp", false},
		{"the typed member number, confirmed", holderkit.Binding{ProvenEmail: "mallory@example.jp", MemberConfirmed: true}, "M-1", "", true},
		{"another member number, confirmed", holderkit.Binding{ProvenEmail: "mallory@example.jp", MemberConfirmed: true}, "M-2", "", false},
		{"no member number on file, confirmed", holderkit.Binding{MemberConfirmed: true}, "", "", false},
		{"staff reviewed", holderkit.Binding{IdentityReviewed: true}, "", "", true},
	} {
		c := cmd(dsrv1.Action_ACTION_ERASE, typed, tc.binding)
		if got := c.Covers(tc.heldMID, tc.heldMail); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}
