package holderkit_test

import (
	"context"
	"testing"
	"time"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Processed commands answer redeliveries; their results may carry a sealed
// export, so they are deleted once the retention period has passed
// (privacy policy §7). Younger ones stay.
func TestProcessedCommandsArePurgedAfterTheRetentionPeriod(t *testing.T) {
	h := startToy(t, 0)
	for _, id := range []string{"req-old", "req-recent"} {
		h.send(t, &dsrv1.HolderCommand{RequestId: id, Action: dsrv1.Action_ACTION_ERASE, Attempt: 1})
		if res := h.result(t); res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE {
			t.Fatalf("result %v", res)
		}
	}
	ctx := context.Background()
	now := time.Now()
	if _, err := h.pool.Exec(ctx, "UPDATE holderkit_processed_commands SET processed_at = $1 WHERE request_id = 'req-old'",
		now.Add(-366*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := h.hk.PurgeProcessed(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("PurgeProcessed = %d, %v; want 1", n, err)
	}
	var left []string
	rows, err := h.pool.Query(ctx, "SELECT request_id FROM holderkit_processed_commands ORDER BY request_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != "req-recent" {
		t.Errorf("processed commands left = %v; want [req-recent]", left)
	}
}
