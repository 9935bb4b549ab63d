package ride

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"birdcar/sql/db"
)

// Direction says whether BirdCar received or sends a message.
type Direction string

// The directions of a message.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// MessageKind is why a message exists.
type MessageKind string

// The kinds of message.
const (
	KindNotification MessageKind = "notification"   // tells a party about a new ride
	KindForward      MessageKind = "forward"        // relays a party's text to the other
	KindInbound      MessageKind = "inbound"        // a text to a pool number
	KindOutOfSession MessageKind = "out_of_session" // tells a past party their ride is over
)

// MessageStatus is where a message is: an inbound one was received
// (matched to a ride) or unmatched; an outbound one moves from queued to
// sent, delivered or failed (rows written before 2026-12 may say sending:
// a send attempt was claimed with a write of its own then).
type MessageStatus string

// The statuses of a message.
const (
	StatusReceived  MessageStatus = "received"
	StatusUnmatched MessageStatus = "unmatched"
	StatusQueued    MessageStatus = "queued"
	StatusSending   MessageStatus = "sending"
	StatusSent      MessageStatus = "sent"
	StatusDelivered MessageStatus = "delivered"
	StatusFailed    MessageStatus = "failed"
)

// Message is an SMS BirdCar received or sends.
type Message struct {
	ID         int64
	RideID     *int64 // nil for an inbound message no route matched
	Direction  Direction
	Kind       MessageKind
	Originator string // E.164
	Recipient  string // E.164
	Body       string
	Status     MessageStatus
	ReceivedID *string // MessageBird's id of an inbound message
	ProviderID *string // MessageBird's id of an outbound one, once accepted
	ForwardOf  *int64  // the inbound message a forward relays
	Attempts   int32
	LastError  *string // why the last send failed, fit for an operator
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SendArgs asks a worker to send one outbound message. It is the contract
// between the transactions that write messages and the workers in jobs.
type SendArgs struct {
	MessageID int64 `json:"message_id"`
}

// Kind names the job in River's tables.
func (SendArgs) Kind() string { return "send_sms" }

// queueMessages writes outbound messages and enqueues their sends in tx,
// so a message exists exactly when its job does.
func (s *Service) queueMessages(ctx context.Context, tx pgx.Tx, msgs ...db.MessageCreateOutboundParams) error {
	q := db.New(tx)
	params := make([]river.InsertManyParams, 0, len(msgs))
	for _, m := range msgs {
		msg, err := q.MessageCreateOutbound(ctx, m)
		if err != nil {
			return fmt.Errorf("write %s message: %w", m.Kind, err)
		}
		params = append(params, river.InsertManyParams{Args: SendArgs{MessageID: msg.ID}})
	}
	if _, err := s.Jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue sends: %w", err)
	}
	return nil
}

// InboundSMS is a text to a pool number, numbers in E.164.
type InboundSMS struct {
	ID         string // MessageBird's id: a repeated delivery is handled once
	Originator string
	Recipient  string // the pool number
	Text       string
}

// SMSOutcome is what ReceiveSMS did with a text.
type SMSOutcome string

// The outcomes of an inbound text.
const (
	SMSForwarded SMSOutcome = "forwarded" // recorded and its forward queued
	SMSUnmatched SMSOutcome = "unmatched" // no route: recorded only
	SMSDuplicate SMSOutcome = "duplicate" // delivered before: nothing done
)

// ReceiveSMS records a text and, when a route connects its sender through
// the number, queues its forward to the other party, in one transaction:
// once it returns nil the text can no longer be lost, and however often
// MessageBird delivers it, it is forwarded once.
func (s *Service) ReceiveSMS(ctx context.Context, in InboundSMS) (SMSOutcome, error) {
	now := s.Now()
	if s.SendAttempts > 0 {
		if outcome, ok, err := s.forwardSMS(ctx, in, now); err != nil || ok {
			return outcome, err
		}
	}
	var outcome SMSOutcome
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		route, err := q.RouteFind(ctx, db.RouteFindParams{ProxyNumber: in.Recipient, CallerPhone: in.Originator, Now: now})
		matched := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find route: %w", err)
		}
		params := db.MessageCreateInboundParams{Originator: in.Originator, Recipient: in.Recipient, Body: in.Text,
			Status: string(StatusUnmatched), ReceivedID: &in.ID, CreatedAt: now}
		outcome = SMSUnmatched
		if matched {
			params.Status, params.RideID, outcome = string(StatusReceived), &route.RideID, SMSForwarded
		}
		inboundID, err := q.MessageCreateInbound(ctx, params)
		if errors.Is(err, pgx.ErrNoRows) {
			outcome = SMSDuplicate
			return nil // delivered before: already forwarded
		}
		if err != nil {
			return err
		}
		if !matched {
			return s.outOfSession(ctx, tx, in, inboundID, now)
		}
		return s.queueMessages(ctx, tx, db.MessageCreateOutboundParams{
			RideID: &route.RideID, Kind: string(KindForward), Originator: in.Recipient,
			Recipient: route.CalleePhone, Body: clip(in.Text, forwardLimit), ForwardOf: &inboundID,
		})
	})
	if err != nil {
		return "", fmt.Errorf("record inbound SMS: %w", err)
	}
	return outcome, nil
}

// forwardSMSSQL records the texts routes take and queues their forwards
// and the forwards' send jobs, all in one statement: texts arrive in
// groups (see group), and PostgreSQL plans and starts every statement, and
// parses the CHECK constraints of each table it writes, anew; with a
// statement per text that was most of a text's time in the server (issue
// 15), with one per group it is paid once for many. It inserts nothing
// for a text no route takes (its ride_id is null: ReceiveSMS handles it),
// and no forward for a repeated delivery: one delivered before, or twice
// in the group, whose first is forwarded (queued). Rows are written in the
// order of the input, which callers sort by MessageBird's id, so two
// groups holding the same text wait for each other, never deadlock. The
// send jobs are written as River's own insert writes them (the columns
// not named keep their defaults).
const forwardSMSSQL = `WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
        WITH ORDINALITY AS i (originator, recipient, body, received_id, at, forward_body, n)
), route AS (
    -- Lateral and fenced (OFFSET 0), so that each text's lookup uses the
    -- index's three keys: as a join it was planned on the number alone,
    -- then filtered through every route the number ever had.
    SELECT i.n, r.ride_id, r.callee_phone FROM input i CROSS JOIN LATERAL (
        SELECT r.ride_id, r.callee_phone FROM routes r
        WHERE r.proxy_number_id = (SELECT p.id FROM proxy_numbers p WHERE p.number = i.recipient)
          AND r.caller_phone = i.originator AND r.valid @> i.at
        OFFSET 0
    ) r
), inbound AS (
    INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, received_id, created_at)
    SELECT route.ride_id, 'inbound', 'inbound', i.originator, i.recipient, i.body, 'received', i.received_id, i.at
    FROM input i JOIN route USING (n) ORDER BY i.n
    ON CONFLICT (received_id) DO NOTHING
    RETURNING id, ride_id, received_id
), first AS (
    SELECT DISTINCT ON (i.received_id) i.n, inbound.id, inbound.ride_id
    FROM inbound JOIN input i USING (received_id) JOIN route USING (n) ORDER BY i.received_id, i.n
), forward AS (
    INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, forward_of)
    SELECT first.ride_id, 'outbound', 'forward', i.recipient, route.callee_phone, i.forward_body, 'queued', first.id
    FROM first JOIN input i USING (n) JOIN route USING (n) ORDER BY first.n
    RETURNING id
), job AS (
    INSERT INTO river_job (args, kind, max_attempts, queue, state)
    SELECT jsonb_build_object('message_id', forward.id), 'send_sms', $7, 'default', 'available' FROM forward ORDER BY forward.id
)
SELECT i.n, route.ride_id, first.n IS NOT NULL FROM input i LEFT JOIN route USING (n) LEFT JOIN first USING (n)`

// wakeWorkersSQL wakes River's workers as River's client does, on the
// channel <schema>.river_insert. It is sent after the texts' commit, on
// its own: a transaction that notifies holds PostgreSQL's notification
// lock through its commit (from within the texts' transaction it made
// every group that woke the workers commit alone). Its commit need not
// wait for the WAL flush (a lost wake-up costs a poll), so it holds the
// lock for a moment.
const wakeWorkersSQL = `SELECT set_config('synchronous_commit', 'off', true),
    pg_notify(current_schema() || '.river_insert', '{"queue": "default"}')`

// forwardText is a text for forwardSMSSQL, and what it did: the ride whose
// route took it (nil: none did), and whether its forward was queued (not
// when it was delivered before).
type forwardText struct {
	in     InboundSMS
	now    time.Time
	rideID *int64
	queued bool
}

// queueForwards adds texts' statement to b: it fills in each text's
// ride and whether its forward was queued.
func (s *Service) queueForwards(b *pgx.Batch, texts []forwardText) {
	order := sortedBy(texts, func(t forwardText) string { return t.in.ID })
	var originators, recipients, bodies, ids, forwards []string
	var ats []time.Time
	for _, i := range order {
		t := &texts[i]
		originators, recipients, bodies = append(originators, t.in.Originator), append(recipients, t.in.Recipient), append(bodies, t.in.Text)
		ids, ats, forwards = append(ids, t.in.ID), append(ats, t.now), append(forwards, clip(t.in.Text, forwardLimit))
	}
	b.Queue(forwardSMSSQL, originators, recipients, bodies, ids, ats, forwards, s.SendAttempts).Query(func(rows pgx.Rows) error {
		var n int
		var rideID *int64
		var queued bool
		seen := make([]bool, len(order))
		_, err := pgx.ForEachRow(rows, []any{&n, &rideID, &queued}, func() error {
			if n < 1 || n > len(order) || seen[n-1] {
				return fmt.Errorf("forward texts: row %d of %d", n, len(order))
			}
			seen[n-1] = true
			t := &texts[order[n-1]]
			t.rideID, t.queued = rideID, queued
			return nil
		})
		if err == nil && slices.Contains(seen, false) {
			err = fmt.Errorf("forward texts: a text of %d has no row", len(order))
		}
		return err
	})
}

// forwardSMS is ReceiveSMS for a text a route takes, in one statement
// (grouped with others by s.Batch); ok is false when no route took it.
func (s *Service) forwardSMS(ctx context.Context, in InboundSMS, now time.Time) (outcome SMSOutcome, ok bool, err error) {
	t, err := s.batch().forwards.do(ctx, forwardText{in: in, now: now})
	switch {
	case err != nil:
		return "", false, fmt.Errorf("record inbound SMS: %w", err)
	case t.rideID == nil:
		return "", false, nil
	case !t.queued:
		return SMSDuplicate, true, nil
	}
	return SMSForwarded, true, nil
}

// commitForwards records texts and queues their forwards, all in one
// implicit transaction (one round trip), quiet when the consoles are
// told by s.Announce.
func (s *Service) commitForwards(ctx context.Context, texts []forwardText) ([]forwardText, error) {
	b := &pgx.Batch{}
	if s.Announce != nil {
		b.Queue(quietSQL)
	}
	s.queueForwards(b, texts)
	if err := s.DB.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	queued := false
	for _, t := range texts {
		if t.queued {
			queued = true
			s.announce(ChangeMessage, *t.rideID)
		}
	}
	switch {
	case !queued:
	case s.Batch == nil:
		// s.DB may be a transaction (tests): never used from another goroutine.
		s.wakeWorkers()
	default:
		workerWake.wake(s.wakeWorkers)
	}
	return texts, nil
}

// wakeWorkers wakes River's workers for the jobs committed so far. The
// jobs are committed: a failed wake-up costs them the workers' next poll.
func (s *Service) wakeWorkers() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.DB.Exec(ctx, wakeWorkersSQL); err != nil {
		s.logger().Warn("could not wake the send workers: they find the forwards at their next poll", "err", err)
	}
}

// wakeLimiter spaces the wake-ups of River's workers out as River's client
// does (once per its FetchCooldown, 2 ms in jobs): a worker woken less
// than that ago is still fetching. Jobs committed meanwhile get one
// wake-up, wakeEvery after the last, rather than wait for the workers'
// next poll (50 ms, most of the forward latency's tail when they did).
type wakeLimiter struct {
	mu        sync.Mutex
	last      time.Time
	scheduled bool
}

// workerWake is the process's: Services copied for a transaction share it.
var workerWake wakeLimiter

const wakeEvery = 2 * time.Millisecond

// wake calls send for jobs just committed: at once when the last wake-up
// is wakeEvery old, else wakeEvery after it, once for all jobs committed
// until then.
func (w *wakeLimiter) wake(send func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.scheduled {
		return // the coming wake-up is sent after these jobs' commit too
	}
	w.scheduled = true
	time.AfterFunc(max(wakeEvery-time.Since(w.last), 0), func() {
		w.mu.Lock()
		w.scheduled, w.last = false, time.Now()
		w.mu.Unlock()
		send()
	})
}

// outOfSession handles a text no route took: a past party of a ride on
// the number (within OutOfSessionWindow) is told, once a day per number,
// that the ride is over; a stranger is never texted (SMS pumping would
// bill us for every reply). Either way the platform hears of it.
func (s *Service) outOfSession(ctx context.Context, tx pgx.Tx, in InboundSMS, inboundID int64, now time.Time) error {
	q := db.New(tx)
	past, err := s.pastParty(ctx, q, in.Originator, in.Recipient, now)
	if err != nil {
		return err
	}
	if past != nil {
		// Lock the party, then look again: an erasure that got there
		// first has deleted the route, and they are a stranger now.
		role, id := RoleDriver, past.DriverID
		if past.IsCustomer {
			role, id = RoleCustomer, past.CustomerID
		}
		if _, err := lockPerson(ctx, q, role, id, "share"); err != nil {
			return err
		}
		if past, err = s.pastParty(ctx, q, in.Originator, in.Recipient, now); err != nil {
			return err
		}
	}
	ev := unmatchedEvent{MessageID: inboundID, ProxyNumber: in.Recipient}
	ev.pastParty(past)
	if past != nil && s.OutOfSessionReply != "" {
		due, err := q.OutOfSessionReplyDue(ctx, db.OutOfSessionReplyDueParams{Phone: in.Originator, ProxyNumberID: past.ProxyNumberID,
			Now: now, Since: now.Add(-outOfSessionReplyEvery)})
		if err := ignoreNoRows(err); err != nil {
			return fmt.Errorf("out-of-session reply: %w", err)
		}
		if due {
			err := s.queueMessages(ctx, tx, db.MessageCreateOutboundParams{RideID: &past.RideID, Kind: string(KindOutOfSession),
				Originator: in.Recipient, Recipient: in.Originator, Body: s.OutOfSessionReply})
			if err != nil {
				return err
			}
		}
	}
	return s.emit(ctx, tx, EventMessageUnmatched, ev)
}

// outOfSessionReplyEvery is how often one person hears the out-of-session
// reply from one number.
const outOfSessionReplyEvery = 24 * time.Hour

// pastParty finds the ride whose route connected phone through proxy and
// stopped within OutOfSessionWindow: nil when there is none.
func (s *Service) pastParty(ctx context.Context, q *db.Queries, phone, proxy string, now time.Time) (*db.RoutePastPartyRow, error) {
	if s.OutOfSessionWindow <= 0 || phone == "" || proxy == "" {
		return nil, nil
	}
	p, err := q.RoutePastParty(ctx, db.RoutePastPartyParams{ProxyNumber: proxy, CallerPhone: phone, Now: now, Since: now.Add(-s.OutOfSessionWindow)})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find past ride: %w", err)
	}
	return &p, nil
}

// ReportStatus is a delivery report's verdict on an outbound message.
type ReportStatus string

// The verdicts of a delivery report.
const (
	ReportSent      ReportStatus = "sent" // on its way (sent, buffered)
	ReportDelivered ReportStatus = "delivered"
	ReportFailed    ReportStatus = "failed" // expired or refused by the network
)

// Report is a delivery report for an outbound message.
type Report struct {
	MessageID  int64 // our id, which the send gave as the reference
	Status     ReportStatus
	Reason     *string   // why it failed, for a failure
	ProviderID *string   // MessageBird's id, should the report beat the send's own record
	At         time.Time // when MessageBird saw the status
}

// reportClockSkew is how far ahead of our clock a delivery report's time
// may be. Reports order a message's statuses, and a report dated ahead
// would outrank every real one until that date: a forged report from 2030
// would freeze the status for years. MessageBird's and our clocks are both
// NTP-synced, so seconds apart; a minute leaves room for that and for the
// report's journey without letting any report outrank the next for long.
const reportClockSkew = time.Minute

// ApplyReport moves an outbound message on, unless a newer report already
// did. It reports whether the message changed: false for an unknown
// message or a report older than the last. A report without a time counts
// as made now, and one dated more than reportClockSkew ahead as made then.
func (s *Service) ApplyReport(ctx context.Context, r Report) (bool, error) {
	now := s.Now()
	if r.At.IsZero() {
		r.At = now
	}
	if latest := now.Add(reportClockSkew); r.At.After(latest) {
		r.At = latest
	}
	applied, err := s.batch().reports.do(ctx, r)
	if err != nil {
		return false, fmt.Errorf("apply delivery report: %w", err)
	}
	return applied, nil
}

// commitReports applies delivery reports in one quiet transaction, and
// reports which changed their message.
func (s *Service) commitReports(ctx context.Context, reports []Report) ([]bool, error) {
	applied := make([]bool, len(reports))
	var rides []int64
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := s.quiet(ctx, tx); err != nil {
			return err
		}
		// In the order of the messages, as sends' acceptances update them:
		// groups updating the same messages wait, never deadlock.
		for _, i := range sortedBy(reports, func(r Report) int64 { return r.MessageID }) {
			r := reports[i]
			rideID, err := q.MessageApplyReport(ctx, db.MessageApplyReportParams{
				ID: r.MessageID, ReportStatus: string(r.Status), Reason: r.Reason, ProviderID: r.ProviderID, ReportedAt: r.At,
			})
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				continue
			case err != nil:
				return err
			}
			applied[i] = true
			rides = append(rides, orZero(rideID))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(ChangeMessage, rides...)
	return applied, nil
}

// ForwardOf returns the forward written for an inbound MessageBird
// message, or nil when there is none (unmatched, or not received).
func (s *Service) ForwardOf(ctx context.Context, receivedID string) (*Message, error) {
	m, err := s.queries().MessageFindForward(ctx, &receivedID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find forward: %w", err)
	}
	msg := toMessage(m)
	return &msg, nil
}

// Outbox lists the newest outbound messages, newest first.
func (s *Service) Outbox(ctx context.Context) ([]Message, error) {
	rows, err := s.queries().MessageListOutbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return toMessages(rows), nil
}

// OutboundMessage returns a message BirdCar sends.
func (s *Service) OutboundMessage(ctx context.Context, id int64) (Message, error) {
	m, err := outbound(ctx, s.queries(), id)
	if err != nil {
		return Message{}, err
	}
	return toMessage(m), nil
}

// outbound loads a message BirdCar sends.
func outbound(ctx context.Context, q *db.Queries, id int64) (db.Message, error) {
	m, err := q.MessageGet(ctx, id)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && Direction(m.Direction) != Outbound):
		return m, ErrMessageNotFound
	case err != nil:
		return m, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

func toMessage(m db.Message) Message {
	return Message{
		ID: m.ID, RideID: m.RideID, Direction: Direction(m.Direction), Kind: MessageKind(m.Kind),
		Originator: m.Originator, Recipient: m.Recipient, Body: m.Body, Status: MessageStatus(m.Status),
		ReceivedID: m.ReceivedID, ProviderID: m.ProviderID, ForwardOf: m.ForwardOf,
		Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

func toMessages(rows []db.Message) []Message {
	out := make([]Message, len(rows))
	for i, m := range rows {
		out[i] = toMessage(m)
	}
	return out
}
