package ride

import (
	"context"
	"fmt"
	"time"

	"birdcar/sql/db"
)

// ActorKind says what kind of caller made a change.
type ActorKind string

// Changes come from an operator in the console, an integrator through the
// API, or BirdCar itself (periodic jobs, workers, start-up).
const (
	ActorOperator ActorKind = "operator"
	ActorAPI      ActorKind = "api"
	ActorSystem   ActorKind = "system"
)

// Actor is who makes the changes of a context: the audit log's "who".
type Actor struct {
	Kind ActorKind
	// Name is the operator's display name, the API token's name, or
	// "system".
	Name string
	// Login is the operator's user name ("" for the others).
	Login string
}

// System is the actor of a context that names none: jobs, start-up.
var System = Actor{Kind: ActorSystem, Name: "system"}

type actorKey struct{}

// WithActor returns ctx whose changes are recorded as a's. The web layer
// sets it for console sessions and API tokens; a context without one is
// System's.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom is the actor WithActor put in ctx, System if none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Kind != "" {
		return a
	}
	return System
}

// Audit actions: what a change did, named <thing>.<verb>.
const (
	AuditRideCreate      = "ride.create"
	AuditRideEnd         = "ride.end"
	AuditRideExtend      = "ride.extend"
	AuditRideDisconnect  = "ride.disconnect"
	AuditPersonCreate    = "person.create"
	AuditPersonUpdate    = "person.update"
	AuditPersonDelete    = "person.delete"
	AuditPersonErase     = "person.erase"
	AuditNumberAdd       = "number.add"
	AuditNumberEnable    = "number.enable"
	AuditNumberDisable   = "number.disable"
	AuditSendRetry       = "send.retry"
	AuditSendCancel      = "send.cancel"
	AuditSendRetryAll    = "send.retry-all"
	AuditEventRetry      = "event.retry"
	AuditOperatorAdd     = "operator.add"
	AuditOperatorRole    = "operator.role"
	AuditOperatorDisable = "operator.disable"
	AuditOperatorEnable  = "operator.enable"
	AuditOperatorPass    = "operator.password"
	AuditTokenCreate     = "token.create"
	AuditTokenRevoke     = "token.revoke"
)

// AuditActions lists the actions, for the audit page's filter.
var AuditActions = []string{
	AuditRideCreate, AuditRideEnd, AuditRideDisconnect, AuditRideExtend,
	AuditPersonCreate, AuditPersonUpdate, AuditPersonDelete, AuditPersonErase,
	AuditNumberAdd, AuditNumberEnable, AuditNumberDisable,
	AuditSendRetry, AuditSendRetryAll, AuditSendCancel, AuditEventRetry,
	AuditOperatorAdd, AuditOperatorRole, AuditOperatorDisable, AuditOperatorEnable, AuditOperatorPass,
	AuditTokenCreate, AuditTokenRevoke,
}

// AuditEntry is one line of the audit log. The actor and the time are
// filled in when it is recorded. Detail must hold no phone number and no
// name of a customer or driver: erasure does not look here.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      Actor
	Action     string
	RideID     *int64
	PersonRole Role
	PersonID   *int64
	Number     string // a proxy number (ours, not personal data)
	Detail     string
}

// audit records e as done by the context's actor now, with q: call it in
// the transaction of the change, so the change and its record commit or
// roll back together.
//
//	if err := s.audit(ctx, q, AuditEntry{Action: AuditRideEnd, RideID: &id}); err != nil { … }
func (s *Service) audit(ctx context.Context, q *db.Queries, e AuditEntry) error {
	return RecordAudit(ctx, q, s.Now(), e)
}

// RecordAudit writes e at the time given, as done by ctx's actor, with
// q (in the change's transaction). It is what Service.audit uses; other
// packages that change state (operators, API tokens) call it directly.
func RecordAudit(ctx context.Context, q *db.Queries, at time.Time, e AuditEntry) error {
	a := ActorFrom(ctx)
	var role *string
	if e.PersonRole != "" {
		r := string(e.PersonRole)
		role = &r
	}
	var number *string
	if e.Number != "" {
		number = &e.Number
	}
	err := q.AuditCreate(ctx, db.AuditCreateParams{
		At: at, ActorKind: string(a.Kind), ActorName: a.Name, ActorLogin: a.Login, Action: e.Action,
		RideID: e.RideID, PersonRole: role, PersonID: e.PersonID, Number: number, Detail: e.Detail,
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Actor  string // part of the actor's name or user name
	Action string // an action ("ride.create") or its thing ("ride")
	RideID int64
	// Since and Until bound the time: Since ≤ at < Until.
	Since, Until time.Time
	Page         Page
}

// AuditLog returns a page of the audit log, newest first, and the cursor
// of the next page (nil after the last).
func (s *Service) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, *Cursor, error) {
	limit, err := f.Page.limit()
	if err != nil {
		return nil, nil, err
	}
	p := db.AuditListParams{Actor: f.Actor, Action: f.Action, Lim: limit}
	if f.RideID > 0 {
		p.RideID = &f.RideID
	}
	if !f.Since.IsZero() {
		p.Since = &f.Since
	}
	if !f.Until.IsZero() {
		p.Until = &f.Until
	}
	if f.Page.After.ID > 0 {
		p.AfterAt, p.AfterID = &f.Page.After.At, &f.Page.After.ID
	}
	rows, err := s.queries().AuditList(ctx, p)
	if err != nil {
		return nil, nil, fmt.Errorf("list audit log: %w", err)
	}
	entries := make([]AuditEntry, len(rows))
	for i, r := range rows {
		entries[i] = toAuditEntry(r)
	}
	entries, next := cut(entries, limit, func(e AuditEntry) Cursor { return Cursor{At: e.At, ID: e.ID} })
	return entries, next, nil
}

func toAuditEntry(r db.AuditLog) AuditEntry {
	e := AuditEntry{
		ID: r.ID, At: r.At, Actor: Actor{Kind: ActorKind(r.ActorKind), Name: r.ActorName, Login: r.ActorLogin},
		Action: r.Action, RideID: r.RideID, PersonID: r.PersonID, Detail: r.Detail,
	}
	if r.PersonRole != nil {
		e.PersonRole = Role(*r.PersonRole)
	}
	if r.Number != nil {
		e.Number = *r.Number
	}
	return e
}
