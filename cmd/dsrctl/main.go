// Command dsrctl is the staff command line for privacy requests: list them
// by the saved views, show one, and act on it (approve, refuse, review an
// identity, record a payment, extend, record an entrusting company's
// instruction, retry a holder, close as withdrawn) — every action
// authenticated and recorded in the audit log. See `dsrctl --help` and the
// README's staff runbook.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"madoguchi.dev/cmd/dsrctl/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
