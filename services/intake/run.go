package intake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/services/intake/migrations"
	"madoguchi.dev/services/outbox"
)

// Deps are what the intake needs from its host process.
type Deps struct {
	Pool      *pgxpool.Pool
	NATS      *nats.Conn
	JS        jetstream.JetStream
	Ring      *seal.Ring
	Namespace contract.Namespace
	Log       zerolog.Logger
	// Listener serves HTTP (the caller chooses the address).
	Listener net.Listener
}

// Run migrates the database, then serves HTTP and relays the outbox until ctx
// ends; then it drains HTTP requests in flight before returning.
func Run(ctx context.Context, d Deps) error {
	if err := pgdb.Migrate(ctx, d.Pool, migrations.FS); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	svc := &Service{Pool: d.Pool, Ring: d.Ring, Namespace: d.Namespace, Log: d.Log}
	h := &HTTP{Service: svc, Pool: d.Pool, NATS: d.NATS, Log: d.Log}
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	relay := &outbox.Relay{Pool: d.Pool, JS: d.JS, Log: d.Log.With().Str("part", "outbox").Logger()}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(d.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("intake: http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error { return relay.Run(gctx) })
	return g.Wait()
}
