package periodic_test

import (
	"context"
	"testing"
	"time"

	"madoguchi.dev/platform/periodic"
)

func TestRunCallsAtOnceThenEveryIntervalAndStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		periodic.Run(ctx, 10*time.Millisecond, func(context.Context) { calls <- struct{}{} })
		close(done)
	}()
	// The first call comes without waiting for the interval; the next ones follow.
	for i := 0; i < 3; i++ {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d never came", i+1)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunMakesItsFirstCallBeforeTheFirstInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan struct{}, 1)
	go periodic.Run(ctx, time.Hour, func(context.Context) {
		select {
		case first <- struct{}{}:
		default:
		}
	})
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("no call before an hour-long interval: the first call waited for the ticker")
	}
}
