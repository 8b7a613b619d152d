package pgdb_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var migrations = fstest.MapFS{
	"00001_things.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id int PRIMARY KEY);\nINSERT INTO things VALUES (1);\n-- +goose Down\nDROP TABLE things;\n")},
}

func TestMigrateAppliesEachMigrationOnce(t *testing.T) {
	pool := testinfra.Pool(t, "t_pgdb", migrations)
	ctx := context.Background()
	// A second start of the service migrates again: nothing happens.
	if err := pgdb.Migrate(ctx, pool, migrations); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil || n != 1 {
		t.Errorf("things has %d rows (%v), want 1: the migration ran twice", n, err)
	}
	// A library's own version table keeps its migrations apart.
	lib := fstest.MapFS{"00001_lib.sql": {Data: []byte("-- +goose Up\nCREATE TABLE lib (id int);\n-- +goose Down\nDROP TABLE lib;\n")}}
	if err := pgdb.MigrateTable(ctx, pool, lib, "lib_db_version"); err != nil {
		t.Fatalf("MigrateTable: %v", err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM lib").Scan(&n); err != nil {
		t.Errorf("library migration not applied: %v", err)
	}
	bad := fstest.MapFS{"00002_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id int);\n")}}
	if err := pgdb.Migrate(ctx, pool, bad); err == nil {
		t.Error("a failing migration reported success")
	}
}

func TestEnsureDatabaseIsIdempotentAndDropRemovesIt(t *testing.T) {
	admin := testinfra.Postgres(t)
	ctx := context.Background()
	name := testinfra.UniqueName("t_pgdb")
	dsn, err := pgdb.EnsureDatabase(ctx, admin, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pgdb.DropDatabase(context.Background(), admin, name) })
	again, err := pgdb.EnsureDatabase(ctx, admin, name)
	if err != nil || again != dsn {
		t.Fatalf("second EnsureDatabase: %q, %v", again, err)
	}
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var current string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil || current != name {
		t.Errorf("connected to %q (%v), want %q", current, err, name)
	}
	// Dropping works with the pool still connected.
	if err := pgdb.DropDatabase(ctx, admin, name); err != nil {
		t.Fatalf("DropDatabase with open sessions: %v", err)
	}
	if _, err := pgdb.Open(ctx, dsn); err == nil {
		t.Error("the dropped database still accepts connections")
	}
}

func TestWithDatabaseKeepsTheRestOfTheDSN(t *testing.T) {
	got, err := pgdb.WithDatabase("postgres://u:p@db:5432/postgres?sslmode=disable", "intake")
	if err != nil || got != "postgres://u:p@db:5432/intake?sslmode=disable" {
		t.Errorf("WithDatabase = %q, %v", got, err)
	}
	if _, err := pgdb.WithDatabase("host=db dbname=x", "intake"); err == nil {
		t.Error("a keyword/value DSN was accepted")
	}
}

func TestOpenErrorsDoNotRevealThePassword(t *testing.T) {
	_, err := pgdb.Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error reveals the password: %v", err)
	}
}
