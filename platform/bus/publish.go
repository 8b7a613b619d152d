package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/proto/contract"
)

// Publish sends a contract message and waits for the stream's ack. msgID is
// the stable id of the event (never a hash of the payload): JetStream drops a
// second publish with the same id inside the dedup window.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID, requestID string, m proto.Message) (*jetstream.PubAck, error) {
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
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return ack, nil
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
