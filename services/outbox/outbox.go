// Package outbox implements the transactional outbox: a message is written
// to the outbox table in the same transaction as the state it announces, and
// the relay publishes it to JetStream afterwards. Together with JetStream's
// dedup on the stable message id, this gives exactly-once appearance of each
// event: a crash before commit leaves neither, a crash after publish but
// before marking sent publishes again, and the stream drops the duplicate.
//
// The table (see services/intake/migrations) needs the columns id, request_id,
// subject, msg_id, msg_type, payload, attempts, last_error, sent_at, and the
// nullable traceparent and tracestate (the W3C trace context of the
// transaction's caller, so that the relayed message continues its trace).
package outbox

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/tracing"
)

// Message is one outbox row's values. The writer inserts the row with its
// own SQL, in the same statement or transaction as the state it announces
// (the intake: services/intake/store.go, qInsertRequests), so that the row
// exists exactly when that state does.
type Message struct {
	RequestID, Subject, MsgID, MsgType string
	Payload                            []byte
	// Traceparent and Tracestate: the caller's W3C trace context ("" when none).
	Traceparent, Tracestate string
}

// NewMessage marshals m and captures ctx's trace context. msgID must be
// stable for the event (e.g. the request id), never derived from the payload.
func NewMessage(ctx context.Context, requestID, subject, msgID string, m proto.Message) (Message, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return Message{}, fmt.Errorf("outbox: marshal: %w", err)
	}
	traceparent, tracestate := tracing.TraceParent(ctx)
	return Message{RequestID: requestID, Subject: subject, MsgID: msgID,
		MsgType: string(m.ProtoReflect().Descriptor().FullName()), Payload: data,
		Traceparent: traceparent, Tracestate: tracestate}, nil
}
