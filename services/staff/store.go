// Package staff is what staff work with besides the Temporal UI: staff
// accounts and their bearer tokens (used by dsrctl and the codec server), the
// append-only audit log, and the staff actions on a request — each one
// authenticated, sent to the workflow as a validated Temporal update, and
// recorded as exactly one audit row, accepted or rejected.
//
// It knows the workflow only through proto/contract and the dsr.v1 messages.
package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/services/staff/migrations"
)

// Role says what an account may do.
type Role string

const (
	// RoleStaff reads (decrypt, list, show) and acts on requests.
	RoleStaff Role = "staff"
	// RoleViewer reads only.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleStaff || r == RoleViewer }

// Account is one staff member.
type Account struct {
	ID          string
	DisplayName string
	Role        Role
	CreatedAt   time.Time
	Disabled    bool
}

// CanAct reports whether the account may perform staff actions.
func (a Account) CanAct() bool { return a.Role == RoleStaff && !a.Disabled }

// Errors.
var (
	// ErrUnauthenticated: no token, an unknown token, or a disabled account.
	ErrUnauthenticated = errors.New("staff: not authenticated (unknown or disabled staff token)")
	// ErrForbidden: the account's role does not allow the action.
	ErrForbidden = errors.New("staff: this account may not perform staff actions")
	// ErrAccountExists: CreateAccount with an id already in use.
	ErrAccountExists = errors.New("staff: an account with this id exists")
	// ErrNoAccount: no account with that id.
	ErrNoAccount = errors.New("staff: no such account")
)

// TokenPrefix starts every staff token, so that a leaked one is recognisable
// (secret scanners, logs).
const TokenPrefix = "mdg_staff_"

var accountIDRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,62}$`)

// Named queries.
const (
	qInsertAccount = `-- name: InsertAccount
INSERT INTO staff_accounts (id, display_name, token_hash, role) VALUES ($1, $2, $3, $4)`

	qAccountByTokenHash = `-- name: AccountByTokenHash
SELECT id, display_name, role, created_at, disabled FROM staff_accounts WHERE token_hash = $1`

	qAccountByID = `-- name: AccountByID
SELECT id, display_name, role, created_at, disabled FROM staff_accounts WHERE id = $1`

	qAccounts = `-- name: Accounts
SELECT id, display_name, role, created_at, disabled FROM staff_accounts ORDER BY id`

	qSetDisabled = `-- name: SetDisabled
UPDATE staff_accounts SET disabled = $2 WHERE id = $1`

	qSetTokenHash = `-- name: SetTokenHash
UPDATE staff_accounts SET token_hash = $2 WHERE id = $1`

	qInsertAudit = `-- name: InsertAudit
INSERT INTO audit_log (actor, action, receipt, workflow_id, update_id, fields, reason, result, message, stage_after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id, at`

	qAudit = `-- name: Audit
SELECT id, at, actor, action, receipt, workflow_id, update_id, fields, reason, result, message, stage_after
FROM audit_log
WHERE ($1 = '' OR receipt = $1) AND ($2 = '' OR actor = $2)
ORDER BY id DESC LIMIT $3`
)

// Store keeps staff accounts and the audit log in the staff database.
type Store struct{ pool *pgxpool.Pool }

// NewStore uses pool (the staff database).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Migrate applies the staff schema (idempotent).
func (s *Store) Migrate(ctx context.Context) error {
	return pgdb.Migrate(ctx, s.pool, migrations.FS)
}

// HashToken is the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken returns a fresh random bearer token.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("staff: token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateAccount adds a staff member and returns their token (shown once;
// only its hash is stored).
func (s *Store) CreateAccount(ctx context.Context, id, displayName string, role Role) (string, error) {
	if !accountIDRE.MatchString(id) {
		return "", fmt.Errorf("staff: account id %q must match %s", id, accountIDRE)
	}
	if strings.TrimSpace(displayName) == "" {
		return "", errors.New("staff: a display name is required")
	}
	if !role.Valid() {
		return "", fmt.Errorf("staff: unknown role %q (staff or viewer)", role)
	}
	token, err := NewToken()
	if err != nil {
		return "", err
	}
	_, err = s.pool.Exec(ctx, qInsertAccount, id, displayName, HashToken(token), string(role))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return "", ErrAccountExists
	}
	if err != nil {
		return "", fmt.Errorf("staff: create account: %w", err)
	}
	return token, nil
}

// RotateToken replaces an account's token and returns the new one.
func (s *Store) RotateToken(ctx context.Context, id string) (string, error) {
	token, err := NewToken()
	if err != nil {
		return "", err
	}
	tag, err := s.pool.Exec(ctx, qSetTokenHash, id, HashToken(token))
	if err != nil {
		return "", fmt.Errorf("staff: rotate token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return "", ErrNoAccount
	}
	return token, nil
}

// SetDisabled disables (or re-enables) an account; a disabled account's
// token and sessions stop working at once.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool) error {
	tag, err := s.pool.Exec(ctx, qSetDisabled, id, disabled)
	if err != nil {
		return fmt.Errorf("staff: disable account: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNoAccount
	}
	return nil
}

func scanAccount(row pgx.Row) (Account, error) {
	var a Account
	var role string
	if err := row.Scan(&a.ID, &a.DisplayName, &role, &a.CreatedAt, &a.Disabled); err != nil {
		return Account{}, err
	}
	a.Role = Role(role)
	return a, nil
}

// Authenticate returns the active account owning token.
func (s *Store) Authenticate(ctx context.Context, token string) (Account, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Account{}, ErrUnauthenticated
	}
	a, err := scanAccount(s.pool.QueryRow(ctx, qAccountByTokenHash, HashToken(token)))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && a.Disabled) {
		return Account{}, ErrUnauthenticated
	}
	if err != nil {
		return Account{}, fmt.Errorf("staff: authenticate: %w", err)
	}
	return a, nil
}

// Account returns an account by id (disabled ones too).
func (s *Store) Account(ctx context.Context, id string) (Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, qAccountByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, ErrNoAccount
	}
	if err != nil {
		return Account{}, fmt.Errorf("staff: account: %w", err)
	}
	return a, nil
}

// Accounts lists every account.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.pool.Query(ctx, qAccounts)
	if err != nil {
		return nil, fmt.Errorf("staff: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Result of an audited action.
type Result string

const (
	Accepted Result = "accepted"
	Rejected Result = "rejected"
	// Failed: the outcome is unknown (Temporal unreachable, timeout); check
	// `dsrctl show` before trying again.
	Failed Result = "failed"
)

// AuditEntry is one audit_log row.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string
	Action     string
	Receipt    string
	WorkflowID string
	UpdateID   string
	// Fields are non-personal details of the request (codes, ids, names of
	// fields — never their values).
	Fields     map[string]any
	Reason     string
	Result     Result
	Message    string
	StageAfter string
}

// Append writes one audit row and returns its id and time. There is no
// update or delete: the table refuses both.
func (s *Store) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	fields, err := json.Marshal(e.Fields)
	if err != nil {
		return e, fmt.Errorf("staff: audit fields: %w", err)
	}
	err = s.pool.QueryRow(ctx, qInsertAudit, e.Actor, e.Action, e.Receipt, e.WorkflowID, e.UpdateID,
		fields, e.Reason, string(e.Result), e.Message, e.StageAfter).Scan(&e.ID, &e.At)
	if err != nil {
		return e, fmt.Errorf("staff: write audit row: %w", err)
	}
	return e, nil
}

// AuditFilter selects audit rows; empty fields match everything.
type AuditFilter struct {
	Receipt string
	Actor   string
	// Limit defaults to 100.
	Limit int
}

// Audit returns matching rows, newest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, qAudit, f.Receipt, f.Actor, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("staff: read audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var fields []byte
		var result string
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Receipt, &e.WorkflowID, &e.UpdateID,
			&fields, &e.Reason, &result, &e.Message, &e.StageAfter); err != nil {
			return nil, err
		}
		e.Result = Result(result)
		if err := json.Unmarshal(fields, &e.Fields); err != nil {
			return nil, fmt.Errorf("staff: audit row %d fields: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
