package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
)

// Publish sends a contract message and waits for the stream's ack. msgID is
// the stable id of the event (never a hash of the payload): JetStream drops a
// second publish with the same id inside the dedup window. The message's
// headers carry ctx's trace context, under a producer span "publish <subject>".
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID, requestID string, m proto.Message) (_ *jetstream.PubAck, err error) {
	ctx, span := StartPublishSpan(ctx, subject, requestID)
	defer func() { EndSpan(span, err) }()
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bus: marshal %T: %w", m, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set("Content-Type", contract.ContentType)
	msg.Header.Set(contract.HeaderType, string(m.ProtoReflect().Descriptor().FullName()))
	if requestID != "" {
		msg.Header.Set(contract.HeaderRequestID, requestID)
	}
	tracing.Inject(ctx, msg.Header)
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return ack, nil
}

// StartPublishSpan starts the producer span of one publish to subject; the
// returned ctx is what to inject into the message's headers.
func StartPublishSpan(ctx context.Context, subject, requestID string) (context.Context, trace.Span) {
	return tracing.Tracer().Start(ctx, "publish "+subject, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(tracing.AttrSystem.String("nats"), tracing.AttrSubject.String(subject),
			tracing.AttrRequestID.String(requestID)))
}

// EndSpan marks a failure and ends span. The error's text is not recorded:
// errors from handlers and servers may quote data.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// Decode unmarshals a message body into m after checking the type header,
// so that a message on the wrong subject is a clear error, not garbage.
func Decode(msg jetstream.Msg, m proto.Message) error {
	want := string(m.ProtoReflect().Descriptor().FullName())
	if got := msg.Headers().Get(contract.HeaderType); got != "" && got != want {
		return fmt.Errorf("message type %q, want %q", got, want)
	}
	if err := proto.Unmarshal(msg.Data(), m); err != nil {
		return fmt.Errorf("undecodable %s: %w", want, err)
	}
	return nil
}
