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

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/tracing"
)

const qEnqueue = `-- name: Enqueue
INSERT INTO outbox (request_id, subject, msg_id, msg_type, payload, traceparent, tracestate)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''))`

// Message is one outbox row's values, for a caller that writes the row
// with its own SQL (for instance in the same statement as the state it
// announces, to save round trips).
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

// Enqueue adds a message to the outbox inside tx. msgID must be stable for
// the event (e.g. the request id), never derived from the payload. After the
// commit, call the relay's Wake (or let its poll find the row).
func Enqueue(ctx context.Context, tx pgx.Tx, requestID, subject, msgID string, m proto.Message) error {
	msg, err := NewMessage(ctx, requestID, subject, msgID, m)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, qEnqueue, msg.RequestID, msg.Subject, msg.MsgID, msg.MsgType, msg.Payload,
		msg.Traceparent, msg.Tracestate); err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	return nil
}
