package ride

import (
	"context"
	"sync"
)

// Batcher is the group commit (see group) of the hot paths: the texts a
// route takes, recorded and queued for forwarding, the sends MessageBird
// accepted, and its delivery reports. One per process, on the Service as
// Batch.
type Batcher struct {
	forwards *group[forwardText, forwardText]
	sent     *group[acceptedSend, struct{}]
	reports  *group[Report, bool]
}

// NewBatcher makes the Batcher of s; Run commits its groups.
func NewBatcher(s *Service) *Batcher { return s.batcher(true) }

func (s *Service) batcher(queued bool) *Batcher {
	return &Batcher{forwards: newGroup(s.commitForwards, queued), sent: newGroup(s.commitSent, queued),
		reports: newGroup(s.commitReports, queued)}
}

// batch is s's Batcher or, without one, a Batcher that commits each
// write alone, at once.
func (s *Service) batch() *Batcher {
	if s.Batch != nil {
		return s.Batch
	}
	return s.batcher(false)
}

// Run commits groups until ctx ends, and returns once the commits in
// flight are done. Writes waiting when it ends are not made (their
// callers' contexts end them): end ctx once nothing writes, after the
// HTTP server and the workers have stopped.
func (b *Batcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { b.forwards.run(ctx) })
	wg.Go(func() { b.sent.run(ctx) })
	wg.Go(func() { b.reports.run(ctx) })
	wg.Wait()
}
