package ride_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"birdcar/sql/ride"
)

// sender answers every send with res, err, and remembers what it was given.
type sender struct {
	res  ride.SendResult
	err  error
	sent []ride.OutboundSMS
}

func (s *sender) Send(_ context.Context, m ride.OutboundSMS) (ride.SendResult, error) {
	s.sent = append(s.sent, m)
	return s.res, s.err
}

// notification is the customer's notification of a fresh ride.
func notification(t *testing.T, f routed) ride.Message {
	t.Helper()
	out, err := f.Rides.Outbox(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out {
		if m.Recipient == f.customer.Phone {
			return m
		}
	}
	t.Fatal("no notification for the customer")
	return ride.Message{}
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	serverDown := &ride.SendError{Failure: ride.FailureServer, Reason: "MessageBird unavailable (server error)"}
	refused := &ride.SendError{Failure: ride.FailureRejected, Reason: "MessageBird rejected the message: no such recipient"}
	for _, tt := range []struct {
		name      string
		sender    *sender
		attempt   int
		want      ride.Delivery
		status    ride.MessageStatus
		lastError string
		provider  string
	}{
		{"an accepted send is recorded with MessageBird's id", &sender{res: ride.SendResult{ProviderID: "mb-1", Status: "sent"}}, 1,
			ride.DeliverySent, ride.StatusSent, "", "mb-1"},
		{"a transient failure waits for a retry", &sender{err: serverDown}, 1,
			ride.DeliveryRetry, ride.StatusQueued, "MessageBird unavailable (server error)", ""},
		{"a permanent failure fails at once", &sender{err: refused}, 1,
			ride.DeliveryFailed, ride.StatusFailed, "MessageBird rejected the message: no such recipient", ""},
		{"the last attempt gives up", &sender{err: serverDown}, 5,
			ride.DeliveryFailed, ride.StatusFailed, "gave up after 5 attempts: MessageBird unavailable (server error)", ""},
		{"an error that is no SendError is retried, unexplained", &sender{err: errors.New("boom")}, 1,
			ride.DeliveryRetry, ride.StatusQueued, "unexpected error while sending", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := activeRide(t, nil)
			m := notification(t, f)
			got, err := f.Rides.Deliver(t.Context(), tt.sender, m.ID, tt.attempt, 5)
			if got != tt.want || (err == nil) != (tt.sender.err == nil) {
				t.Fatalf("Deliver = %s, %v; want %s", got, err, tt.want)
			}
			if len(tt.sender.sent) != 1 || tt.sender.sent[0] != (ride.OutboundSMS{Reference: itoa(m.ID), Originator: f.proxy, Recipient: f.customer.Phone, Body: m.Body}) {
				t.Errorf("sent %+v", tt.sender.sent)
			}
			after := notification(t, f)
			if after.Status != tt.status || after.Attempts != 1 || deref(after.LastError) != tt.lastError || deref(after.ProviderID) != tt.provider {
				t.Errorf("message after: %s, %d attempts, error %q, provider %q; want %s, 1, %q, %q",
					after.Status, after.Attempts, deref(after.LastError), deref(after.ProviderID), tt.status, tt.lastError, tt.provider)
			}
			if tt.sender.err != nil && (!errors.Is(err, tt.sender.err) || ride.IsPermanent(err) != (tt.sender.err == refused)) {
				t.Errorf("error %v does not carry the sender's", err)
			}
		})
	}
	t.Run("a message MessageBird has is never sent again", func(t *testing.T) {
		t.Parallel()
		f := activeRide(t, nil)
		m := notification(t, f)
		first := &sender{res: ride.SendResult{ProviderID: "mb-1"}}
		if _, err := f.Rides.Deliver(t.Context(), first, m.ID, 1, 5); err != nil {
			t.Fatal(err)
		}
		again := &sender{res: ride.SendResult{ProviderID: "mb-2"}}
		if got, err := f.Rides.Deliver(t.Context(), again, m.ID, 2, 5); got != ride.DeliverySkipped || err != nil || len(again.sent) != 0 {
			t.Errorf("second delivery %s, %v, sent %d; want skipped, nothing sent", got, err, len(again.sent))
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestSends_TroubleRetryAndCancel(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	cust := notification(t, f)
	var drv ride.Message
	out, _ := f.Rides.Outbox(ctx)
	for _, m := range out {
		if m.ID != cust.ID {
			drv = m
		}
	}
	down := &sender{err: &ride.SendError{Failure: ride.FailureTimeout, Reason: "MessageBird timed out"}}
	if _, err := f.Rides.Deliver(ctx, down, cust.ID, 1, 5); err == nil {
		t.Fatal("want a failed attempt")
	}
	refused := &sender{err: &ride.SendError{Failure: ride.FailureRejected, Reason: "MessageBird rejected the message"}}
	if _, err := f.Rides.Deliver(ctx, refused, drv.ID, 1, 5); err == nil {
		t.Fatal("want a failed attempt")
	}
	trouble := func() map[int64]ride.Send {
		t.Helper()
		sends, err := f.Rides.TroubledSends(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]ride.Send{}
		for _, s := range sends {
			byID[s.Message.ID] = s
		}
		return byID
	}
	if got := trouble(); len(got) != 2 || got[cust.ID].Message.Status != ride.StatusQueued || got[drv.ID].Message.Status != ride.StatusFailed ||
		got[cust.ID].JobState != "available" {
		t.Fatalf("troubled sends %+v; want the retrying and the failed one, with their jobs", got)
	}
	t.Run("retrying a waiting send runs its job now", func(t *testing.T) {
		if how, err := f.Rides.RetrySend(ctx, cust.ID); err != nil || how != ride.RetriedNow {
			t.Errorf("retry = %v, %v; want run now", how, err)
		}
	})
	t.Run("retrying a failed send queues it again", func(t *testing.T) {
		before := len(sendJobs(t, f.testBundle))
		if how, err := f.Rides.RetrySend(ctx, drv.ID); err != nil || how != ride.Requeued {
			t.Fatalf("retry = %v, %v; want requeued", how, err)
		}
		if got := trouble()[drv.ID]; got.Message.Status != ride.StatusQueued || deref(got.Message.LastError) != "MessageBird rejected the message" {
			t.Errorf("after requeue: %+v; want queued, history kept", got.Message)
		}
		if after := sendJobs(t, f.testBundle); len(after) != before+1 || after[len(after)-1] != drv.ID {
			t.Errorf("jobs %v, want a new one for message %d", after, drv.ID)
		}
	})
	t.Run("cancelling stops it, saying why", func(t *testing.T) {
		if err := f.Rides.CancelSend(ctx, cust.ID); err != nil {
			t.Fatal(err)
		}
		got := trouble()[cust.ID]
		if got.Message.Status != ride.StatusFailed || deref(got.Message.LastError) != "cancelled by an operator (last error: MessageBird timed out)" || got.JobState != "cancelled" {
			t.Errorf("after cancel: %+v, job %s", got.Message, got.JobState)
		}
	})
	t.Run("a text MessageBird accepted, then failed to deliver, is not sent again", func(t *testing.T) {
		ok := &sender{res: ride.SendResult{ProviderID: "mb-9"}}
		if _, err := f.Rides.Deliver(ctx, ok, drv.ID, 2, 5); err != nil {
			t.Fatal(err)
		}
		if err := f.Rides.CancelSend(ctx, drv.ID); err != nil { // its job ends, as if River had finished it
			t.Fatal(err)
		}
		if _, err := f.Rides.ApplyReport(ctx, ride.Report{MessageID: drv.ID, Status: ride.ReportFailed, At: f.Clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		_, err := f.Rides.RetrySend(ctx, drv.ID)
		wantCode(t, err, ride.CodeNotRetryable, "")
	})
	t.Run("inbound or unknown messages are not sends", func(t *testing.T) {
		if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "in", Originator: f.customer.Phone, Recipient: f.proxy, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		fwd, _ := f.Rides.ForwardOf(ctx, "in")
		for _, id := range []int64{*fwd.ForwardOf, 999999} {
			_, err := f.Rides.RetrySend(ctx, id)
			wantCode(t, err, ride.CodeMessageNotFound, "")
			wantCode(t, f.Rides.CancelSend(ctx, id), ride.CodeMessageNotFound, "")
		}
	})
}

func TestSends_PermanentApartAndRetryAllFailed(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	cust := notification(t, f)
	var drv ride.Message
	out, _ := f.Rides.Outbox(ctx)
	for _, m := range out {
		if m.ID != cust.ID {
			drv = m
		}
	}
	down := &sender{err: &ride.SendError{Failure: ride.FailureServer, Reason: "MessageBird unavailable (server error)"}}
	if _, err := f.Rides.Deliver(ctx, down, cust.ID, 5, 5); err == nil { // the last attempt: failed, transient
		t.Fatal("want a failed attempt")
	}
	refused := &sender{err: &ride.SendError{Failure: ride.FailureRejected, Reason: "MessageBird rejected the message: invalid recipient"}}
	if _, err := f.Rides.Deliver(ctx, refused, drv.ID, 1, 5); err == nil {
		t.Fatal("want a failed attempt")
	}
	sends, err := f.Rides.TroubledSends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]ride.Send{}
	for _, s := range sends {
		byID[s.Message.ID] = s
	}
	if s := byID[drv.ID]; !s.Permanent() || s.Requeueable() || s.Recipient == nil || s.Recipient.ID != f.drv.ID || s.Recipient.Role != ride.RoleDriver {
		t.Errorf("refused send %+v: want permanent, not requeueable, its recipient the driver", s)
	}
	if s := byID[cust.ID]; s.Permanent() || !s.Requeueable() || s.Failure != ride.FailureServer || s.JobID == 0 {
		t.Errorf("given-up send %+v: want transient, requeueable, with its job", s)
	}
	sum := ride.Summarize(sends)
	if sum.Failed != 2 || sum.Permanent != 1 || sum.Retrying != 0 || len(sum.Unnotified) != 1 || sum.Unnotified[0] != f.ride.ID || sum.LastError == "" {
		t.Errorf("summary %+v", sum)
	}
	if !ride.SendFailed.Match(byID[drv.ID]) || ride.SendRetrying.Match(byID[drv.ID]) {
		t.Error("filters: a failed send is failed, not retrying")
	}

	n, err := f.Rides.RetryAllFailed(ctx)
	if err != nil || n != 1 {
		t.Fatalf("retry all failed = %d, %v; want the transient one only", n, err)
	}
	sends, _ = f.Rides.TroubledSends(ctx)
	for _, s := range sends {
		switch s.Message.ID {
		case cust.ID:
			if !s.Retrying() {
				t.Errorf("the transient failure after retry all: %s", s.Message.Status)
			}
		case drv.ID:
			if s.Retrying() {
				t.Error("the refused send was queued again")
			}
		}
	}
	if got := sendJobs(t, f.testBundle); got[len(got)-1] != cust.ID {
		t.Errorf("jobs %v: want a new one for message %d", got, cust.ID)
	}
	log, _, err := f.Rides.AuditLog(ctx, ride.AuditFilter{Action: ride.AuditSendRetryAll})
	if err != nil || len(log) != 1 || log[0].Detail != "1 queued again" {
		t.Errorf("audit of retry all: %+v, %v; want one entry for 1 send", log, err)
	}
}
