// Package periodic runs a function now and then at every interval until its
// context ends: the components' lag samplers and retention purges.
package periodic

import (
	"context"
	"time"
)

// Run calls fn at once and then every interval, and returns when ctx ends.
// A slow fn delays the next call rather than piling calls up.
func Run(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
