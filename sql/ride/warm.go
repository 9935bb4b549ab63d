package ride

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
)

// WarmUp runs the statements of the hot paths once on conn (an SMS
// forward, a call's route lookup, a send's read and its outcome), on a
// number nobody has, so that nothing is written: the server process
// loads what they need and pgx prepares them before traffic does. For
// database.Warm.
func (s *Service) WarmUp(ctx context.Context, conn *pgx.Conn) error {
	// Erased people's phones are +999 and their id, never a zero.
	const nobody = "+9990000000"
	b := &pgx.Batch{}
	s.queueForwards(b, []forwardText{{in: InboundSMS{Originator: nobody, Recipient: nobody}, now: s.Now()}})
	err := conn.SendBatch(ctx, b).Close()
	q := db.New(conn)
	if err == nil {
		_, err = q.RouteFind(ctx, db.RouteFindParams{ProxyNumber: nobody, CallerPhone: nobody, Now: s.Now()})
	}
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		_, err = q.MessageToSend(ctx, 0)
	}
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		err = q.MessageMarkSent(ctx, db.MessageMarkSentParams{Ids: []int64{0}, ProviderIds: []string{""}})
	}
	if err == nil {
		err = q.MessageMarkRetrying(ctx, db.MessageMarkRetryingParams{ID: 0, LastError: new("")})
	}
	return err
}
