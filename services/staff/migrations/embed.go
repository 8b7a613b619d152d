// Package migrations holds the staff database schema: staff accounts and the
// append-only audit log of every staff action.
package migrations

import "embed"

// FS holds the goose migrations.
//
//go:embed *.sql
var FS embed.FS
