// Package pgdb opens PostgreSQL pools and applies a service's migrations.
// Every service owns its database; its schema lives only in its migration
// files, applied with goose at start-up (idempotent, locked).
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// Open connects a pool and checks the server answers.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgdb: config: %w", redact(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgdb: ping: %w", redact(err))
	}
	return pool, nil
}

// Migrate applies every pending migration in fsys (goose SQL files) to the
// database behind pool. A Postgres advisory lock keeps concurrent starts of
// the same service from racing.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	return MigrateTable(ctx, pool, fsys, "goose_db_version")
}

// MigrateTable is Migrate with its own version table, for a library (such as
// holderkit) that brings migrations into a database it does not own.
func MigrateTable(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS, table string) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("pgdb: migration lock: %w", err)
	}
	store, err := database.NewStore(goose.DialectPostgres, table)
	if err != nil {
		return fmt.Errorf("pgdb: migration store: %w", err)
	}
	p, err := goose.NewProvider("", db, fsys, goose.WithStore(store), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("pgdb: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("pgdb: migrate up: %w", err)
	}
	return nil
}

// EnsureDatabase creates database name on the server of adminDSN if it does
// not exist, and returns adminDSN pointed at it. For dev stacks and tests;
// production databases are provisioned by the operator.
func EnsureDatabase(ctx context.Context, adminDSN, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", fmt.Errorf("pgdb: connect admin: %w", redact(err))
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
		return "", fmt.Errorf("pgdb: create database %s: %w", name, err)
	}
	return WithDatabase(adminDSN, name)
}

// DropDatabase removes a test database, disconnecting its sessions.
func DropDatabase(ctx context.Context, adminDSN, name string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("pgdb: connect admin: %w", redact(err))
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// WithDatabase returns dsn (URL form) with its database replaced.
func WithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("pgdb: DSN must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// redact keeps passwords in DSNs out of error messages.
func redact(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "postgres://"); i >= 0 {
		return errors.New(msg[:i] + "postgres://[redacted]")
	}
	return err
}
