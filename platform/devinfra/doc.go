// Package devinfra brings up the real servers Madoguchi needs on one machine,
// for `make dev` and the end-to-end tests: it reuses a configured or already
// running PostgreSQL and Temporal and a configured NATS (with JetStream), and
// otherwise starts its own — a private PostgreSQL cluster, an embedded
// nats-server with the components' users and permissions, and the Temporal
// CLI's dev server. Nothing here is used in production.
package devinfra

import (
	"context"
	"fmt"
	"net"
	"time"
)

// FreePort asks the kernel for an unused TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devinfra: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reachable reports whether something accepts TCP connections at addr.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitFor polls check until it succeeds or ctx/timeout ends.
func waitFor(ctx context.Context, timeout time.Duration, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devinfra: %s not ready after %s: %w", what, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
