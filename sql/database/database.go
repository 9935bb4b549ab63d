// Package database opens BirdCar's connection pool to PostgreSQL and
// words connection failures for people.
package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultPoolSize is the connections a process opens unless the URL sets
// pool_max_conns.
const defaultPoolSize = 20

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
