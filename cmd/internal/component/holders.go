package component

import (
	"io/fs"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/accesslog"
	accesslogdb "madoguchi.dev/services/accesslog/migrations"
	"madoguchi.dev/services/billing"
	billingdb "madoguchi.dev/services/billing/migrations"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/marketing"
	marketingdb "madoguchi.dev/services/marketing/migrations"
	"madoguchi.dev/services/members"
	membersdb "madoguchi.dev/services/members/migrations"
	"madoguchi.dev/services/partners"
	partnersdb "madoguchi.dev/services/partners/migrations"
	"madoguchi.dev/services/support"
	supportdb "madoguchi.dev/services/support/migrations"
)

// HolderService is a holder this binary can run: its handlers and schema.
type HolderService struct {
	Actions    func() map[dsrv1.Action]holderkit.HandlerFunc
	Migrations fs.FS
}

// Holders lists the holder services this binary can run, by registry name.
// Each owns its database (HOLDER_<NAME>_DATABASE_URL).
var Holders = map[string]HolderService{
	members.Name:   {Actions: members.Actions, Migrations: membersdb.FS},
	billing.Name:   {Actions: billing.Actions, Migrations: billingdb.FS},
	accesslog.Name: {Actions: accesslog.Actions, Migrations: accesslogdb.FS},
	support.Name:   {Actions: support.Actions, Migrations: supportdb.FS},
	marketing.Name: {Actions: marketing.Actions, Migrations: marketingdb.FS},
	partners.Name:  {Actions: partners.Actions, Migrations: partnersdb.FS},
}
