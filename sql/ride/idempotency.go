package ride

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
)

// IdempotencyTTL is how long a key is remembered; the tidy job forgets
// older ones.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyKey names a request a client may send again.
type IdempotencyKey struct {
	Scope       string // whose keys these are, e.g. a hash of the API token
	Key         string // the client's Idempotency-Key
	Fingerprint []byte // what was asked: a hash of method, path and body
}

// Replay is an answer stored under an idempotency key, as the adapter
// rendered it: the domain keeps it byte for byte without reading it.
type Replay struct {
	Status int
	Body   []byte
}

var (
	errKeyReused = &Error{Code: CodeIdempotencyKeyReused, Field: "idempotency_key",
		Message: "This Idempotency-Key was used for a different request: send a new key with a new request."}
	errKeyInUse = &Error{Code: CodeIdempotencyKeyInUse, Field: "idempotency_key",
		Message: "A request with this Idempotency-Key is still being processed: retry once it has finished."}
)

// Idempotent runs do once per key, Stripe's way. do gets a Service bound to
// one transaction, in which its changes and its answer are stored
// together: no crash leaves a change without its answer. Later calls with
// the key get that answer (replayed true) if they ask the same thing, a
// refusal if they ask something else, and a refusal while the first is
// still running. A failed do stores nothing, so a retry runs afresh.
func (s *Service) Idempotent(ctx context.Context, k IdempotencyKey, do func(*Service) (Replay, error)) (out Replay, replayed bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		free, err := q.IdempotencyLock(ctx, db.IdempotencyLockParams{Scope: k.Scope, Key: k.Key})
		if err != nil {
			return fmt.Errorf("lock idempotency key: %w", err)
		}
		if !free {
			return errKeyInUse
		}
		now := s.Now()
		stored, err := q.IdempotencyGet(ctx, db.IdempotencyGetParams{Scope: k.Scope, Key: k.Key, Since: now.Add(-IdempotencyTTL)})
		switch {
		case err == nil && !bytes.Equal(stored.Fingerprint, k.Fingerprint):
			return errKeyReused
		case err == nil:
			out, replayed = Replay{Status: int(stored.Status), Body: stored.Body}, true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read idempotency key: %w", err)
		}
		inTx := *s
		inTx.DB = tx
		if out, err = do(&inTx); err != nil {
			return err
		}
		return q.IdempotencySave(ctx, db.IdempotencySaveParams{Scope: k.Scope, Key: k.Key, Fingerprint: k.Fingerprint,
			Status: int32(out.Status), Body: out.Body, CreatedAt: now})
	})
	return out, replayed, err
}

// ForgetIdempotencyKeys deletes the keys older than IdempotencyTTL and
// returns how many there were.
func (s *Service) ForgetIdempotencyKeys(ctx context.Context) (int64, error) {
	n, err := s.queries().IdempotencyDeleteExpired(ctx, s.Now().Add(-IdempotencyTTL))
	if err != nil {
		return 0, fmt.Errorf("forget idempotency keys: %w", err)
	}
	return n, nil
}
