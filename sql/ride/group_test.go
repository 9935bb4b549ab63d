package ride

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// A group the database refuses is committed again one write at a time:
// only the refused write fails. A group that cannot reach the database,
// or ran out of time, fails whole, at once.
func TestGroup_RefusedWriteFailsAlone(t *testing.T) {
	var commits [][]string
	g := newGroup(func(_ context.Context, items []string) ([]string, error) {
		commits = append(commits, slices.Clone(items))
		switch {
		case slices.Contains(items, "away"):
			return nil, io.ErrUnexpectedEOF // Unreachable
		case slices.Contains(items, "slow"):
			return nil, &pgconn.PgError{Code: pgerrcode.QueryCanceled} // statement_timeout
		case slices.Contains(items, "bad"):
			return nil, errors.New("refused")
		}
		out := make([]string, len(items))
		for i, s := range items {
			out[i] = s + " done"
		}
		return out, nil
	}, true)
	write := func(items ...string) []groupResult[string] {
		writes := make([]*groupWrite[string, string], len(items))
		for i, s := range items {
			writes[i] = &groupWrite[string, string]{ctx: t.Context(), item: s, done: make(chan groupResult[string], 1)}
		}
		g.write(t.Context(), writes)
		out := make([]groupResult[string], len(writes))
		for i, w := range writes {
			out[i] = <-w.done
		}
		return out
	}

	got := write("a", "b")
	if got[0].val != "a done" || got[1].val != "b done" || len(commits) != 1 {
		t.Fatalf("two good writes: %+v in %d commits, want both done in one", got, len(commits))
	}
	commits = nil
	got = write("a", "bad", "b")
	if got[0].val != "a done" || got[0].err != nil || got[1].err == nil || got[2].val != "b done" || got[2].err != nil {
		t.Errorf("a refused write among good ones: %+v, want only it failed", got)
	}
	if want := [][]string{{"a", "bad", "b"}, {"a"}, {"bad"}, {"b"}}; !slices.EqualFunc(commits, want, slices.Equal) {
		t.Errorf("commits %v, want %v", commits, want)
	}
	commits = nil
	got = write("a", "away", "b")
	for i, r := range got {
		if r.err == nil {
			t.Errorf("write %d of a group that cannot reach the database: no error", i)
		}
	}
	if len(commits) != 1 {
		t.Errorf("an unreachable database was tried %d times, want once", len(commits))
	}
	commits = nil
	if got = write("a", "slow", "b"); got[0].err == nil || len(commits) != 1 {
		t.Errorf("a group that timed out: %+v in %d commits, want failed in one", got, len(commits))
	}

	// A write whose caller has gone is not tried alone.
	commits = nil
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	writes := []*groupWrite[string, string]{
		{ctx: gone, item: "a", done: make(chan groupResult[string], 1)},
		{ctx: t.Context(), item: "bad", done: make(chan groupResult[string], 1)},
	}
	g.write(t.Context(), writes)
	if r := <-writes[0].done; r.err == nil || len(commits) != 2 {
		t.Errorf("a gone caller's write: %+v after commits %v, want an error and no commit of its own", r, commits)
	}
}
