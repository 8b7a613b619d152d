package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/periodic"
	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
)

// PoisonError marks a message that can never be processed (undecodable,
// invalid): it is dead-lettered with the reason and never retried.
type PoisonError struct{ Reason string }

func (e *PoisonError) Error() string { return "poison message: " + e.Reason }

// Poison wraps a reason as a PoisonError.
func Poison(format string, args ...any) error {
	return &PoisonError{Reason: fmt.Sprintf(format, args...)}
}

// Handler processes one message. nil: ack. PoisonError: dead-letter, term.
// Any other error: retry later with backoff, dead-letter after MaxDeliver.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// Consumer describes a durable pull consumer and what to do with failures.
type Consumer struct {
	Namespace contract.Namespace
	Stream    string
	// Durable is the consumer name; it is also the dead-letter source token.
	Durable        string
	FilterSubjects []string
	// MaxDeliver bounds retries (default 10); then the message is dead-lettered.
	MaxDeliver int
	// AckWait is how long a handler may take before redelivery (default 30s).
	AckWait time.Duration
	// DeliverPolicy; default all (a new consumer starts at the stream's start).
	DeliverPolicy jetstream.DeliverPolicy
	// Concurrency is how many messages the handler works on at once
	// (default 1: one after another). Each message is acked on its own, so
	// a consumer whose handler waits on another server (a workflow start, a
	// signal, a database transaction) can keep several in flight; the
	// handler must then be safe to run concurrently.
	Concurrency int
	Log         zerolog.Logger
}

// Backoff between retries of one message.
var Backoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute}

func delayFor(delivered uint64) time.Duration {
	i := int(delivered) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(Backoff) {
		i = len(Backoff) - 1
	}
	return Backoff[i]
}

// Ensure creates or updates the durable consumer.
func (c Consumer) Ensure(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config())
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on %s: %w", c.Durable, c.Stream, err)
	}
	return cons, nil
}

// Config is the JetStream configuration Ensure declares.
func (c Consumer) Config() jetstream.ConsumerConfig {
	maxDeliver := c.MaxDeliver
	if maxDeliver <= 0 {
		maxDeliver = 10
	}
	ackWait := c.AckWait
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    maxDeliver,
		DeliverPolicy: c.DeliverPolicy,
		MaxAckPending: 1000,
	}
	// A single filter goes in FilterSubject: servers before 2.10 (Debian's)
	// do not know FilterSubjects.
	if len(c.FilterSubjects) == 1 {
		cfg.FilterSubject = c.FilterSubjects[0]
	} else {
		cfg.FilterSubjects = c.FilterSubjects
	}
	return cfg
}

// Run consumes until ctx is cancelled, then lets the handler in flight finish.
func (c Consumer) Run(ctx context.Context, js jetstream.JetStream, h Handler) error {
	cons, err := c.Ensure(ctx, js)
	if err != nil {
		return err
	}
	maxDeliver := cons.CachedInfo().Config.MaxDeliver
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("bus: consume %s: %w", c.Durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	go c.sampleLag(ctx, cons)
	// slots bounds the handlers in flight; on shutdown Run returns only
	// once every one of them has finished.
	slots := make(chan struct{}, max(1, c.Concurrency))
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			c.Log.Warn().Err(err).Str("consumer", c.Durable).Msg("pull failed; retrying")
			continue
		}
		slots <- struct{}{}
		inFlight.Add(1)
		go func() {
			defer func() { <-slots; inFlight.Done() }()
			// The handler gets a context that outlives shutdown by a bounded
			// time, so work in flight finishes instead of being torn in half.
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 25*time.Second)
			defer cancel()
			c.handle(hctx, js, msg, h, maxDeliver)
		}()
	}
}

func (c Consumer) handle(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, h Handler, maxDeliver int) {
	log := c.Log.With().Str("consumer", c.Durable).Str("subject", msg.Subject()).
		Str("request_id", msg.Headers().Get(contract.HeaderRequestID)).Logger()
	// The handler runs in the producer's trace, under a consumer span.
	ctx, span := c.startSpan(ctx, msg)
	outcome := "retry"
	defer func() {
		span.SetAttributes(tracing.AttrOutcome.String(outcome))
		if outcome != "ack" {
			EndSpan(span, errors.New(outcome))
			return
		}
		span.End()
	}()
	start := time.Now()
	err := safeCall(ctx, h, msg)
	metrics.HandlerSeconds.WithLabelValues(c.Durable).Observe(time.Since(start).Seconds())
	if meta, _ := msg.Metadata(); meta != nil && meta.NumDelivered > 1 {
		metrics.Redeliveries.WithLabelValues(c.Durable).Inc()
	}
	if err == nil {
		outcome = "ack"
		metrics.Consumed.WithLabelValues(c.Durable, "ack").Inc()
		if aerr := msg.Ack(); aerr != nil {
			log.Warn().Err(aerr).Msg("ack failed; message will be redelivered")
		}
		return
	}
	var poison *PoisonError
	meta, _ := msg.Metadata()
	exhausted := meta != nil && maxDeliver > 0 && int(meta.NumDelivered) >= maxDeliver
	if errors.As(err, &poison) || exhausted {
		reason := err.Error()
		if exhausted && poison == nil {
			reason = "max deliveries reached: " + reason
		}
		if derr := c.deadLetter(ctx, js, msg, reason); derr != nil {
			// Not dead-lettered: keep the message rather than lose it.
			log.Error().Err(derr).Msg("dead-letter failed; message kept for redelivery")
			delivered := uint64(1)
			if meta != nil {
				delivered = meta.NumDelivered
			}
			_ = msg.NakWithDelay(delayFor(delivered))
			return
		}
		log.Warn().Str("reason", reason).Msg("message dead-lettered")
		outcome = "dead_letter"
		metrics.Consumed.WithLabelValues(c.Durable, "dead_letter").Inc()
		_ = msg.Term()
		return
	}
	delivered := uint64(1)
	if meta != nil {
		delivered = meta.NumDelivered
	}
	log.Warn().Err(err).Uint64("delivered", delivered).Msg("handler failed; will retry")
	metrics.Consumed.WithLabelValues(c.Durable, "retry").Inc()
	_ = msg.NakWithDelay(delayFor(delivered))
}

// startSpan continues the trace in msg's headers with a consumer span
// "process <subject>". Its attributes are the subject, the consumer and a
// well-formed request id: nothing from the body.
func (c Consumer) startSpan(ctx context.Context, msg jetstream.Msg) (context.Context, trace.Span) {
	ctx = tracing.Extract(ctx, msg.Headers())
	attrs := []attribute.KeyValue{tracing.AttrSystem.String("nats"), tracing.AttrSubject.String(msg.Subject()),
		tracing.AttrConsumer.String(c.Durable)}
	if id := msg.Headers().Get(contract.HeaderRequestID); looksLikeID(id) {
		attrs = append(attrs, tracing.AttrRequestID.String(id))
	}
	return tracing.Tracer().Start(ctx, "process "+msg.Subject(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrs...))
}

// looksLikeID accepts a request id as the intake makes it (a UUID): a
// header is only a claim, and a span attribute must never carry free text.
func looksLikeID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// safeCall turns a handler panic into a poison error: one bad message must
// not take the consumer down.
func safeCall(ctx context.Context, h Handler, msg jetstream.Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Poison("handler panicked: %v", r)
		}
	}()
	return h(ctx, msg)
}

func (c Consumer) deadLetter(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, reason string) error {
	dl := nats.NewMsg(c.Namespace.DeadLetter(c.Durable))
	dl.Data = msg.Data()
	if len(dl.Data) > maxDeadLetterBody {
		// The original may be near the server's limit; keep what fits.
		dl.Data = dl.Data[:maxDeadLetterBody]
		dl.Header.Set("Madoguchi-Dead-Truncated", strconv.Itoa(len(msg.Data())))
	}
	copied := 0
	for k, vs := range msg.Headers() {
		if !validHeaderName(k) {
			continue // nats.go refuses to send such a name; drop it, keep the message
		}
		for _, v := range vs {
			if copied += len(k) + len(v); copied > maxDeadLetterHeaders {
				dl.Header.Set("Madoguchi-Dead-Headers-Dropped", "true")
				break
			}
			dl.Header.Add(k, strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' {
					return ' '
				}
				return r
			}, v))
		}
	}
	dl.Header.Del(nats.MsgIdHdr)
	dl.Header.Set(contract.HeaderDeadReason, reason)
	dl.Header.Set(contract.HeaderDeadSubject, msg.Subject())
	dl.Header.Set(contract.HeaderDeadSource, c.Durable)
	id := c.Durable
	if meta, err := msg.Metadata(); err == nil {
		id = c.Durable + "." + meta.Stream + "." + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	_, err := js.PublishMsg(ctx, dl, jetstream.WithMsgID(id))
	return err
}

// sampleLag publishes the consumer's backlog every 15 seconds.
func (c Consumer) sampleLag(ctx context.Context, cons jetstream.Consumer) {
	periodic.Run(ctx, 15*time.Second, func(ctx context.Context) {
		if info, err := cons.Info(ctx); err == nil {
			metrics.ConsumerPending.WithLabelValues(c.Durable).Set(float64(info.NumPending))
		}
	})
}

// maxDeadLetterBody keeps a dead letter under the default 1 MiB payload limit
// with room for its headers.
const maxDeadLetterBody = 768 << 10

// maxDeadLetterHeaders bounds the original headers copied into a dead letter.
const maxDeadLetterHeaders = 64 << 10

// validHeaderName accepts token characters only: anything else nats.go may
// refuse to send or to parse back.
func validHeaderName(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
