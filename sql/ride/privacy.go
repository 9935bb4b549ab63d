package ride

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// erasedPrefix starts the phone an erased person keeps: +999 and their id,
// unique as the column wants and in no country's numbering plan.
const erasedPrefix = "+999"

// Erased reports whether the person was erased: name and phone are gone.
func (p Person) Erased() bool { return strings.HasPrefix(p.Phone, erasedPrefix) }

// redactBatch is how many rides one retention statement redacts.
const redactBatch = 500

// ErasePerson forgets a person: their name and phone, and in every ride
// they had, what the texts said and every phone in texts, calls and
// routes; texts and calls no ride took from their phones too, and stored
// API answers that mention them. Rides keep their times, statuses and
// counts. A person a ride still connects is refused: the number would
// stop reaching them mid-ride. Erasing twice is erasing once.
func (s *Service) ErasePerson(ctx context.Context, role Role, id int64) error {
	if !role.Valid() {
		return ErrPersonNotFound
	}
	return s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		// Locked first: a ride being created for them, or an answer to them
		// out of session, finishes before this reads their rides.
		p, err := lockPerson(ctx, q, role, id, "update")
		if err != nil || p.Erased() {
			return err
		}
		now := s.Now()
		rides, err := q.PersonRides(ctx, db.PersonRidesParams{Role: string(role), ID: id, Now: now})
		if err != nil {
			return fmt.Errorf("find %s's rides: %w", role, err)
		}
		ids := make([]int64, len(rides))
		for i, r := range rides {
			if r.Routing {
				return Errorf(CodePersonInSession, "%s's ride #%d still connects them: erase them once it has ended and its grace period is over.", p.Name, r.ID)
			}
			ids[i] = r.ID
		}
		phones, err := q.PersonPastPhones(ctx, db.PersonPastPhonesParams{Role: string(role), ID: id})
		if err != nil {
			return fmt.Errorf("find %s's phones: %w", role, err)
		}
		phones = append(phones, p.Phone)
		for _, e := range phones {
			phones = append(phones, phone.Digits(e)) // MessageBird's form, as calls keep it
		}
		if err := q.RideRedact(ctx, db.RideRedactParams{RideIds: ids, Now: now}); err != nil {
			return fmt.Errorf("redact rides: %w", err)
		}
		if err := q.UnmatchedRedact(ctx, db.UnmatchedRedactParams{Phones: phones, Before: time.Time{}}); err != nil {
			return fmt.Errorf("redact unmatched: %w", err)
		}
		if err := q.OutOfSessionForget(ctx, db.OutOfSessionForgetParams{Before: time.Time{}, Phones: phones}); err != nil {
			return fmt.Errorf("forget out-of-session replies: %w", err)
		}
		if err := q.IdempotencyForget(ctx, jsonValues(append(phones, p.Name))); err != nil {
			return fmt.Errorf("forget stored answers: %w", err)
		}
		if _, err := q.PersonErase(ctx, db.PersonEraseParams{Role: string(role), ID: id}); err != nil {
			return fmt.Errorf("erase %s: %w", role, err)
		}
		return s.audit(ctx, q, AuditEntry{Action: AuditPersonErase, PersonRole: role, PersonID: &id,
			Detail: fmt.Sprintf("%d rides redacted", len(ids))})
	})
}

// jsonValues is how texts stand in a stored JSON answer as whole values
// (`:"Anne \u0026 Bo"`): escaped as encoding/json escapes them, and not
// matching a longer value they are part of.
func jsonValues(texts []string) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		v, _ := json.Marshal(t) // a string always marshals
		out[i] = ":" + string(v)
	}
	return out
}

// RedactExpired applies the retention period: the rides that stopped
// routing longer than Retention ago lose their texts' bodies and every
// phone in their texts, calls and routes, and so do the texts and calls
// no ride took. It returns how many rides it redacted.
func (s *Service) RedactExpired(ctx context.Context) (int, error) {
	// Who was told their ride is over is needed for a day only.
	err := s.queries().OutOfSessionForget(ctx, db.OutOfSessionForgetParams{Before: s.Now().Add(-outOfSessionReplyEvery), Phones: []string{}})
	if err != nil || s.Retention <= 0 {
		return 0, err
	}
	cutoff, q, total := s.Now().Add(-s.Retention), s.queries(), 0
	for {
		ids, err := q.RidesToRedact(ctx, db.RidesToRedactParams{Cutoff: cutoff, Lim: redactBatch})
		if err != nil {
			return total, fmt.Errorf("find rides to redact: %w", err)
		}
		if len(ids) > 0 {
			if err := q.RideRedact(ctx, db.RideRedactParams{RideIds: ids, Now: s.Now()}); err != nil {
				return total, fmt.Errorf("redact rides: %w", err)
			}
		}
		if total += len(ids); len(ids) < redactBatch {
			break
		}
	}
	if err := q.UnmatchedRedact(ctx, db.UnmatchedRedactParams{Phones: []string{}, Before: cutoff}); err != nil {
		return total, fmt.Errorf("redact unmatched: %w", err)
	}
	return total, nil
}
