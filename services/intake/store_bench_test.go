package intake

import (
	"context"
	"fmt"
	"testing"
	"time"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/services/intake/migrations"
)

// BenchmarkInsertRequests is the intake's statement alone (with the mail
// quota's charge), one statement at a time, by batch size: what the group writer's batches cost on the
// machine's PostgreSQL (docs/performance.md). ns/op is per statement;
// µs/request divides it by the batch.
func BenchmarkInsertRequests(b *testing.B) {
	pool := testinfra.Pool(b, "b_insert", migrations.FS)
	ctx := context.Background()
	day := jstDay(time.Now())
	for _, n := range []int{1, 4, 8, 16, 32, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			seq := 0
			for b.Loop() {
				rows := make([]announced, n)
				for i := range rows {
					seq++
					r, m := pendingRequest(b, fmt.Sprintf("B%d-%08d", n, seq), "")
					// Each charges the mail quota of its own address, as
					// submissions do with the default configuration.
					r.quota = quotaCharge{key: fmt.Sprintf("psn_b%d_%d", n, seq), day: day, limit: DefaultMailPerAddressPerDay}
					rows[i] = announced{r, m}
				}
				if _, err := insertRequests(ctx, pool, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/request")
		})
	}
}
