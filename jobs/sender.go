package jobs

import (
	"context"
	"errors"
)

// OutboundSMS is what a worker hands a Sender.
type OutboundSMS struct {
	Reference  string // our message id, echoed back in delivery reports
	Originator string // proxy number, E.164 (+31...)
	Recipient  string // E.164
	Body       string // up to 1,600 characters, any Unicode
}

// SendResult is the provider's receipt for an accepted message.
type SendResult struct {
	ProviderID string // the provider's message id, matched against delivery reports
	Status     string // e.g. "sent", or MessageBird's recipient status
}

// Sender hands an SMS to a provider. Failures are *SendError, so a worker can
// tell a retry from a give-up with IsPermanent.
type Sender interface {
	Send(ctx context.Context, m OutboundSMS) (SendResult, error)
}

// SendError classifies a failed send. Permanent means retrying cannot help
// (the provider refused the message or our key); otherwise the failure is
// transient (server error, timeout, network, garbled answer).
type SendError struct {
	Permanent bool
	Reason    string // short, safe to show an operator: never holds a secret
	Err       error
}

func (e *SendError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is, or wraps, a permanent *SendError.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}
