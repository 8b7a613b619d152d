package holderkit

import (
	"context"
	"fmt"
	"time"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/periodic"
)

// DefaultRetention keeps processed commands a year: far beyond any
// redelivery or resend of a command (the request's workflow has long
// ended), and no longer, since a result may carry a sealed export.
const DefaultRetention = 365 * 24 * time.Hour

const qPurgeProcessed = `-- name: PurgeProcessed
DELETE FROM holderkit_processed_commands WHERE processed_at < $1`

// PurgeProcessed deletes processed commands older than the retention
// period (privacy policy §7) and returns how many it deleted.
func (h *Holder) PurgeProcessed(ctx context.Context, now time.Time) (int64, error) {
	retention := h.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	tag, err := h.Pool.Exec(ctx, qPurgeProcessed, now.Add(-retention))
	if err != nil {
		return 0, fmt.Errorf("holderkit %s: purge processed commands: %w", h.Name, err)
	}
	metrics.RetentionPurged.WithLabelValues("processed_command").Add(float64(tag.RowsAffected()))
	return tag.RowsAffected(), nil
}

// purgeEvery runs PurgeProcessed now and then every interval until ctx ends.
func (h *Holder) purgeEvery(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if n, err := h.PurgeProcessed(ctx, time.Now()); err != nil && ctx.Err() == nil {
			h.Log.Warn().Err(err).Msg("purging processed commands failed; retrying at the next interval")
		} else if n > 0 {
			h.Log.Info().Int64("purged", n).Msg("processed commands past retention purged")
		}
	})
}
