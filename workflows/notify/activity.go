package notify

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"
)

// SendActivityName is the name to register Activities.SendNotice under.
const SendActivityName = "notify.SendNotice"

// Error types of the non-retryable application errors SendNotice returns.
const (
	ErrTypeInvalidNotice = "NoticeInvalid"  // ErrInvalidNotice: fix the caller
	ErrTypeRejected      = "NoticeRejected" // the SMTP server answered 5xx
)

// Activities sends notices from a Temporal worker:
//
//	w.RegisterActivityWithOptions(notify.Activities{Sender: s}.SendNotice,
//		activity.RegisterOptions{Name: notify.SendActivityName})
//
// The notice (with the recipient's address and any code) travels in the
// activity input, which the payload codec encrypts. Give each notice an ID
// that stays the same across activity retries (e.g. "<request id>.<kind>.<n>").
type Activities struct {
	Sender *Sender
}

// SendNotice sends n and returns its Message-ID. Network failures and 4xx
// replies are returned as they are, for Temporal to retry; an invalid
// notice or a 5xx reply is non-retryable. Error messages carry no personal
// data, so they are safe in workflow history.
func (a Activities) SendNotice(ctx context.Context, n Notice) (string, error) {
	id, err := a.Sender.Send(ctx, n)
	if err == nil {
		return id, nil
	}
	if errors.Is(err, ErrInvalidNotice) {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidNotice, nil)
	}
	var se *SendError
	if errors.As(err, &se) && se.Permanent() {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRejected, nil)
	}
	// Only the message, not the wrapped cause, goes into history.
	return "", temporal.NewApplicationError(err.Error(), "NoticeNotSent")
}
