// Package migrations holds holderkit's table, applied to each holder's
// database with its own goose version table.
package migrations

import "embed"

// FS holds the goose migrations.
//
//go:embed *.sql
var FS embed.FS
