// Package database opens BirdCar's connection pool to PostgreSQL and
// words connection failures for people.
package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultPoolSize is the connections a process opens unless the URL sets
// pool_max_conns.
const defaultPoolSize = 20

// connectTimeout bounds opening a connection unless the URL sets
// connect_timeout.
const connectTimeout = 5 * time.Second

// statementTimeout bounds each statement unless the URL sets its own.
const statementTimeout = "10s"

// Open opens a pool on url and proves the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message may echo the URL, password included.
		return nil, errors.New("not a valid PostgreSQL URL (want postgres://user:password@host:5432/dbname)")
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (the core count, at least 4) starves River's
		// workers and the webhooks sharing one pool.
		pcfg.MaxConns = defaultPoolSize
	}
	// Every connection is kept (and opened at start-up: Warm). Grown on
	// demand, the pool met the first burst of traffic with no idle
	// connection: each waiting request opened its own (a server process
	// forked, authenticated, its caches empty) and a second of forwards
	// stalled behind them (issue 15's forward-latency stall). Opened
	// together, the connections must not all expire together either.
	pcfg.MinConns = pcfg.MaxConns
	pcfg.MaxConnLifetimeJitter = pcfg.MaxConnLifetime / 4
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		// A server that accepts and never answers (a failover, a
		// partition) must not hold a connection attempt for ever: callers
		// waiting for it, and Close, which waits for the pool's own.
		pcfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if _, set := pcfg.ConnConfig.RuntimeParams["statement_timeout"]; !set {
		// Every statement the app runs takes milliseconds: one that hangs
		// (a lock, a lost plan) should fail the request, not hold a
		// connection. Migrations run without it.
		pcfg.ConnConfig.RuntimeParams["statement_timeout"] = statementTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s:%d: %w", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, Cause(err))
	}
	return pool, nil
}

// Warm opens every connection of the pool now, all at once, and runs fn
// (when not nil) once on each: the first statements on a new connection
// cost ten times what they cost later (the server process loads its
// catalog caches and plans), and a web process should pay that before its
// first webhook, not during it. It is best effort: a server with fewer
// free connections leaves the pool smaller, as it would anyway, and a
// failing fn leaves a connection cold.
func Warm(ctx context.Context, pool *pgxpool.Pool, fn func(context.Context, *pgx.Conn) error) {
	n := int(pool.Config().MaxConns)
	conns := make(chan *pgxpool.Conn, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return
			}
			conns <- c
			if fn != nil {
				_ = fn(ctx, c.Conn())
			}
		})
	}
	wg.Wait()
	close(conns)
	for c := range conns {
		c.Release()
	}
}

// Cause keeps the innermost error of a chain, following the first of
// joined errors: the part a person can act on ("connection refused",
// "password authentication failed for user …"), without the dial details,
// user, host and port wrapped around it.
func Cause(err error) error {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := e.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}
