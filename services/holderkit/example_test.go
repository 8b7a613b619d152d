package holderkit_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// A new holder ("newsletter") in a few lines: connect, describe what it does
// for each action inside its own database transaction, and Run. Then list it
// in workflows/registry/holders.yaml with the actions it serves.
func Example() {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	pool, err := pgxpool.New(ctx, os.Getenv("HOLDER_NEWSLETTER_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	ring, err := seal.ParseRing(os.Getenv("MADOGUCHI_KEYS"))
	if err != nil {
		log.Fatal(err)
	}
	h := &holderkit.Holder{
		Name: "newsletter", Namespace: contract.Default, JS: js, Pool: pool, Ring: ring,
		Log: zerolog.New(os.Stderr),
		Actions: map[dsrv1.Action]holderkit.HandlerFunc{
			dsrv1.Action_ACTION_ERASE: func(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
				tag, err := tx.Exec(ctx, "DELETE FROM subscribers WHERE lower(email) = lower($1)", cmd.Subject.GetEmail())
				if err != nil {
					return holderkit.Result{}, err // retried
				}
				if tag.RowsAffected() == 0 {
					return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND}, nil
				}
				return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected())}, nil
			},
		},
	}
	// Run migrates holderkit's processed-commands table, then consumes this
	// holder's commands until ctx ends; each (request, action) runs once.
	if err := h.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// A service that only needs to forget people (a cache, a search index)
// subscribes to erasure events in one call. Events carry pseudonyms only:
// compute platform/pseudonym's Key.Of for your own keys to match them.
func ExampleOnErasure() {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	err = holderkit.OnErasure(ctx, js, contract.Default, "search-index", zerolog.New(os.Stderr),
		func(ctx context.Context, ev *dsrv1.ErasureCompleted) error {
			for _, p := range ev.GetSubjectPseudonyms() {
				log.Printf("forget documents indexed under %s", p) // idempotent: delivery is at-least-once
			}
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}
}
