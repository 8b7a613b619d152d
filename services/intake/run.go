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

	"madoguchi.dev/platform/periodic"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/services/intake/migrations"
	"madoguchi.dev/services/outbox"
)

// Deps are what the intake needs from its host process.
type Deps struct {
	Pool *pgxpool.Pool
	NATS *nats.Conn
	JS   jetstream.JetStream
	// Ring is the intake's own ring (data at rest, download grants);
	// Payloads the ring of Temporal payloads (announcements).
	Ring, Payloads *seal.Ring
	Namespace      contract.Namespace
	Log            zerolog.Logger
	// Listener serves HTTP (the caller chooses the address).
	Listener net.Listener
	// Requests reaches the request workflows for the person's pages
	// (TemporalRequests on a client with the payload codec).
	Requests Requests
	// Packages opens disclosure packages for the download page.
	Packages Packages
	// PublicURL is where the pages are published (an https one makes the
	// download grant cookie Secure).
	PublicURL string
	// DisclosureFeeJPY is the fee the form announces for fee-bearing kinds.
	DisclosureFeeJPY int
	// Limits are the per-client rate limits (zero: defaults); behind a
	// reverse proxy, Limits.TrustedProxies names it.
	Limits Limits
	// MailQuota bounds the submissions a day whose mails go to one address
	// (zero: no bound).
	MailQuota MailQuota
	// Retention is how long personal data is kept after a request ended
	// (zero: DefaultRetention); PurgeInterval how often the purge runs
	// (zero: hourly).
	Retention, PurgeInterval time.Duration
	// WriteConcurrency: insert statements in flight (Service.WriteConcurrency).
	WriteConcurrency int
}

// Run migrates the database, then serves HTTP, relays the outbox, records
// concluded requests and purges them after retention (and the mail quota's
// counters of past days), until ctx ends; then it drains HTTP requests in
// flight before returning.
func Run(ctx context.Context, d Deps) error {
	if err := pgdb.Migrate(ctx, d.Pool, migrations.FS); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	relay := &outbox.Relay{Pool: d.Pool, JS: d.JS, Log: d.Log.With().Str("part", "outbox").Logger()}
	svc := &Service{Pool: d.Pool, Ring: d.Ring, Payloads: d.Payloads, Namespace: d.Namespace, Log: d.Log, Announced: relay.Wake,
		WriteConcurrency: d.WriteConcurrency, MailQuota: d.MailQuota}
	h := &HTTP{Service: svc, Pool: d.Pool, NATS: d.NATS, Log: d.Log, Requests: d.Requests, Packages: d.Packages,
		Ring: d.Ring, PublicURL: d.PublicURL, DisclosureFeeJPY: d.DisclosureFeeJPY, Limits: d.Limits}
	// ReadTimeout leaves time for two 5 MiB documents on a slow line.
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute}
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
	// Files kept from failed form attempts that no request claimed.
	g.Go(func() error { svc.purgeEvery(gctx, time.Hour, "unclaimed uploads", svc.PurgeStaleUploads); return nil })
	g.Go(func() error { return svc.ConsumeConclusions(gctx, d.JS) })
	g.Go(func() error {
		svc.purgeEvery(gctx, time.Hour, "mail quota counters of past days", svc.PurgeMailQuota)
		return nil
	})
	retention, interval := d.Retention, d.PurgeInterval
	if retention <= 0 {
		retention = DefaultRetention
	}
	if interval <= 0 {
		interval = time.Hour
	}
	g.Go(func() error {
		svc.purgeEvery(gctx, interval, "personal data of concluded requests",
			func(ctx context.Context) (int64, error) { return svc.PurgeConcluded(ctx, retention) })
		return nil
	})
	return g.Wait()
}

// purgeEvery runs purge now and then every interval until ctx ends,
// logging what it removed (a count) or why it failed; the next round retries.
func (s *Service) purgeEvery(ctx context.Context, interval time.Duration, what string, purge func(context.Context) (int64, error)) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if n, err := purge(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn().Err(err).Msgf("purging %s failed; retrying at the next interval", what)
		} else if n > 0 {
			s.Log.Info().Int64("purged", n).Msgf("%s purged", what)
		}
	})
}
