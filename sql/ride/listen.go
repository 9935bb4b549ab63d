package ride

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// listener keeps one connection of its own LISTENing on a channel, and
// after a lost connection starts again: the route table and the console
// feed each follow their channel with one.
//
// On every (re)connection it listens first and calls ready after, so that
// whatever ready reads is not older than the first notice it will get.
// A quiet connection is pinged after heartbeat without a notice (answering
// within half of it), so one that died without a word (a partition, a
// failed-over server) is noticed within 1.5 times heartbeat.
type listener struct {
	pool      *pgxpool.Pool
	rides     *Service // its logger
	name      string   // application_name, so an operator sees it in pg_stat_activity
	channel   string
	heartbeat time.Duration
	// ready runs after LISTEN on each new connection; notice on each
	// notification; lost after the connection failed or ctx ended. An
	// error from ready or notice drops the connection and starts again.
	ready  func(ctx context.Context, conn *pgx.Conn) error
	notice func(ctx context.Context, conn *pgx.Conn, payload string) error
	lost   func(err error)
}

// run follows the channel until ctx ends, waiting a little longer after
// each failure (up to 2 s), at once again after a connection that held.
func (l *listener) run(ctx context.Context) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		started := time.Now()
		err := l.follow(ctx)
		if l.lost != nil {
			l.lost(err)
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			wait = 100 * time.Millisecond // it had been up: try again at once
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// follow listens, calls ready, and hands each notice to notice until the
// connection fails or ctx ends.
func (l *listener) follow(ctx context.Context) error {
	pc, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // its own connection: LISTEN holds it
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SET application_name = '"+l.name+"'; LISTEN "+l.channel); err != nil {
		return err
	}
	if l.ready != nil {
		if err := l.ready(ctx, conn); err != nil {
			return err
		}
	}
	for {
		wait, cancel := context.WithTimeout(ctx, l.heartbeat)
		n, err := conn.WaitForNotification(wait)
		cancel()
		if err != nil && ctx.Err() == nil && pgconn.Timeout(err) {
			// Silence: make sure the connection is still there, since a
			// dead one can look just as quiet.
			ping, cancel := context.WithTimeout(ctx, l.heartbeat/2)
			err = conn.Ping(ping)
			cancel()
			if err == nil {
				continue
			}
		}
		if err != nil {
			return err
		}
		if err := l.notice(ctx, conn, n.Payload); err != nil {
			return err
		}
	}
}
