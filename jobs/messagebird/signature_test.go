package messagebird

import (
	"strconv"
	"testing"
	"time"
)

// TestHostile_ReplayGuardBounded: ids are kept until their signature
// expires and no longer; a guard full of live ids refuses more rather than
// forget one.
func TestHostile_ReplayGuardBounded(t *testing.T) {
	t.Parallel()
	g := &replayGuard{seen: map[string]time.Time{}}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Minute)
	if got := g.claim("a", exp, now); got != claimed {
		t.Fatalf("first use: %v", got)
	}
	if got := g.claim("a", exp, now.Add(30*time.Second)); got != replayed {
		t.Errorf("second use while valid: %v, want replayed", got)
	}
	for i := len(g.seen); i < maxReplayIDs; i++ {
		g.claim(strconv.Itoa(i), exp, now)
	}
	if got := g.claim("one more", exp, now); got != guardFull {
		t.Errorf("claim on a full guard: %v, want guardFull", got)
	}
	later := exp.Add(time.Second)
	if got := g.claim("one more", later.Add(time.Minute), later); got != claimed {
		t.Errorf("claim once the others expired: %v", got)
	}
	if len(g.seen) != 1 {
		t.Errorf("%d ids kept after they expired, want only the new one", len(g.seen))
	}
	g.release("one more")
	if got := g.claim("one more", later.Add(time.Minute), later); got != claimed {
		t.Errorf("claim after release: %v", got)
	}
}
