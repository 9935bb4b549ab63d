package ride

import (
	"context"
	"time"
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

func newGroup[T, R any](commit func(ctx context.Context, items []T) ([]R, error)) *group[T, R] {
	return &group[T, R]{queue: make(chan *groupWrite[T, R]), commit: commit}
}

// do writes item with whatever else arrives meanwhile, and returns once
// that is committed (or ctx ends: the write may still be committed).
func (g *group[T, R]) do(ctx context.Context, item T) (R, error) {
	w := &groupWrite[T, R]{item: item, done: make(chan groupResult[R], 1)}
	var zero R
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

// run commits groups until ctx ends, from groupCommitters goroutines.
func (g *group[T, R]) run(ctx context.Context) {
	for range groupCommitters {
		go g.committer(ctx)
	}
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
		g.write(ctx, writes)
	}
}

// write commits writes together, or when that fails each alone, and
// answers each.
func (g *group[T, R]) write(ctx context.Context, writes []*groupWrite[T, R]) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout)
	defer cancel()
	items := make([]T, len(writes))
	for i, w := range writes {
		items[i] = w.item
	}
	vals, err := g.commit(ctx, items)
	if err != nil && len(writes) > 1 && !Unreachable(err) {
		for _, w := range writes {
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
