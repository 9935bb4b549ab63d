package ride

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// group commits writes of one kind that arrive together in one
// transaction: the hot paths' group commit (issue 15). Under load each
// commit waits for a WAL flush, so texts and sends were bounded by how
// fast the server flushes, not by its CPU; a group pays one flush for
// every write that arrived while the last one was committing. A lone
// write is committed at once, never held back to wait for company.
//
// A group the database refuses is committed again one write at a time,
// so a write it refuses fails alone, and the others in its group do not.
type group[T, R any] struct {
	queue chan *groupWrite[T, R]
	// commit writes items in one transaction, and returns a result for each.
	commit func(ctx context.Context, items []T) ([]R, error)
}

type groupWrite[T, R any] struct {
	ctx  context.Context // the caller's: once it ends, no one waits for the write
	item T
	done chan groupResult[R]
}

type groupResult[R any] struct {
	val R
	err error
}

const (
	groupMax        = 100 // writes in one transaction
	groupCommitters = 4   // transactions in flight: one is flushed while others fill
	groupTimeout    = 10 * time.Second
)

// newGroup makes a group of commit; a group not queued (no Batcher: see
// Service.batch) commits each write alone, at once, and is never run.
func newGroup[T, R any](commit func(ctx context.Context, items []T) ([]R, error), queued bool) *group[T, R] {
	g := &group[T, R]{commit: commit}
	if queued {
		g.queue = make(chan *groupWrite[T, R])
	}
	return g
}

// do writes item with whatever else arrives meanwhile, and returns once
// that is committed (or ctx ends: the write may still be committed).
func (g *group[T, R]) do(ctx context.Context, item T) (R, error) {
	var zero R
	if g.queue == nil {
		vals, err := g.commit(ctx, []T{item})
		if err != nil {
			return zero, err
		}
		return vals[0], nil
	}
	w := &groupWrite[T, R]{ctx: ctx, item: item, done: make(chan groupResult[R], 1)}
	select {
	case g.queue <- w:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case r := <-w.done:
		return r.val, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// run commits groups from groupCommitters goroutines until ctx ends, and
// returns once they have stopped.
func (g *group[T, R]) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range groupCommitters {
		wg.Go(func() { g.committer(ctx) })
	}
	wg.Wait()
}

func (g *group[T, R]) committer(ctx context.Context) {
	writes := make([]*groupWrite[T, R], 0, groupMax)
	for {
		writes = writes[:0]
		select {
		case w := <-g.queue:
			writes = append(writes, w)
		case <-ctx.Done():
			return
		}
	gather:
		for len(writes) < groupMax {
			select {
			case w := <-g.queue:
				writes = append(writes, w)
			default:
				break gather
			}
		}
		// One deadline for the group and its retries: a slow database
		// holds a committer for groupTimeout at most, not once per write.
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout)
		g.write(gctx, writes)
		cancel()
	}
}

// write commits writes together, or when the database refused them (not
// when it could not be reached, or time ran out) each alone, and answers
// each. A write whose caller has gone is not tried alone: its caller
// answered with an error, and MessageBird or River tries it again.
func (g *group[T, R]) write(ctx context.Context, writes []*groupWrite[T, R]) {
	items := make([]T, len(writes))
	for i, w := range writes {
		items[i] = w.item
	}
	vals, err := g.commitSafely(ctx, items)
	if err != nil && len(writes) > 1 && !Unreachable(err) && !timedOut(err) && ctx.Err() == nil {
		for _, w := range writes {
			if w.ctx.Err() != nil {
				w.done <- groupResult[R]{err: w.ctx.Err()}
				continue
			}
			g.write(ctx, []*groupWrite[T, R]{w})
		}
		return
	}
	for i, w := range writes {
		r := groupResult[R]{err: err}
		if err == nil {
			r.val = vals[i]
		}
		w.done <- r
	}
}

// commitSafely is commit, a panic in it an error: the committer serves
// every caller of the path.
func (g *group[T, R]) commitSafely(ctx context.Context, items []T) (vals []R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("group commit panicked: %v", p)
		}
	}()
	return g.commit(ctx, items)
}

// sortedBy returns the indexes of items in the order of their keys: the
// order a group's commit takes its rows in, so that two groups wanting
// the same rows wait for each other instead of deadlocking.
func sortedBy[T any, K cmp.Ordered](items []T, key func(T) K) []int {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(key(items[a]), key(items[b])) })
	return order
}

// timedOut reports whether err is a deadline or a statement timeout: a
// write alone would meet it again.
func timedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.QueryCanceled || pgErr.Code == pgerrcode.LockNotAvailable))
}
