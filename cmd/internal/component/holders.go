package component

import (
	"io/fs"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/members"
	membersdb "madoguchi.dev/services/members/migrations"
)

// HolderService is a holder this binary can run: its handlers and schema.
type HolderService struct {
	Actions    func() map[dsrv1.Action]holderkit.HandlerFunc
	Migrations fs.FS
}

// Holders lists the holder services this binary can run, by registry name.
var Holders = map[string]HolderService{
	members.Name: {Actions: members.Actions, Migrations: membersdb.FS},
}
