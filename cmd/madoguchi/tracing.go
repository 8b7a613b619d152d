package main

import (
	"context"
	"time"

	"madoguchi.dev/platform/tracing"
)

// setupTracing installs the trace propagator and, when OTEL_EXPORTER_OTLP_*
// is set, the OTLP exporter, named after the command ("madoguchi-intake",
// "madoguchi-holder-members", …). The returned func flushes buffered spans.
func setupTracing(ctx context.Context, cmd string, args []string) (func(), error) {
	name := "madoguchi-" + cmd
	if cmd == "holder" && len(args) == 1 {
		name += "-" + args[0]
	}
	shutdown, err := tracing.Setup(ctx, name)
	if err != nil {
		return func() {}, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx)
	}, nil
}
