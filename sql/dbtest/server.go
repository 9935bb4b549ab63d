package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"birdcar/sql/localpg"
	"birdcar/sql/migrations"
)

const (
	// setupTimeout bounds starting a cluster, creating the databases and
	// migrating, so a wedged server fails the tests instead of hanging them.
	setupTimeout = 2 * time.Minute
	// dirPrefix names the throwaway clusters' directories in os.TempDir.
	dirPrefix = "birdcar-dbtest-"
	// orphanAge spares a directory another test binary has just created
	// and not yet locked.
	orphanAge = time.Minute
	// poolConns leaves room for parallel tests that each hold a Tx and
	// query through Pool besides.
	poolConns = 10
)

// server is the database server a test binary uses and what it made there.
type server struct {
	cluster  *localpg.Cluster // nil when TEST_DATABASE_URL names the server
	dir      string           // the cluster's data directory
	adminURL string
	admin    *pgxpool.Pool // creates and drops databases
	template string        // migrated once; FreshDB and the shared database copy it
	testDB   string
	pool     *pgxpool.Pool // on testDB
}

func setup() (_ *server, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s := &server{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
		}
	}()

	if u := os.Getenv(envURL); u != "" {
		// Other databases are reached by swapping the URL's path: check
		// now that it has one.
		if _, err := withDatabase(u, "postgres"); err != nil {
			return nil, err
		}
		s.adminURL = u
	} else if err := s.startCluster(ctx); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(s.adminURL)
	if err != nil {
		// Not err itself: it may quote the URL, password included.
		return nil, fmt.Errorf("cannot parse %s as a PostgreSQL URL", envURL)
	}
	cfg.MaxConns = 2
	if s.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	if err := s.admin.Ping(ctx); err != nil {
		if s.cluster == nil {
			return nil, fmt.Errorf("connect to the server in %s: %w", envURL, err)
		}
		return nil, fmt.Errorf("connect to the throwaway cluster: %w", err)
	}

	s.template = newName("tpl")
	if err := s.createDatabase(ctx, s.template, ""); err != nil {
		return nil, err
	}
	if err := s.migrateTemplate(ctx); err != nil {
		return nil, err
	}
	s.testDB = newName("pkg")
	if err := s.createDatabase(ctx, s.testDB, s.template); err != nil {
		return nil, err
	}
	u, err := withDatabase(s.adminURL, s.testDB)
	if err != nil {
		return nil, err
	}
	if cfg, err = pgxpool.ParseConfig(u); err != nil {
		return nil, err
	}
	cfg.MaxConns = poolConns
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *server) startCluster(ctx context.Context) error {
	reapOrphans(ctx)
	// A new path, not os.MkdirTemp's: as root, localpg gives the postgres
	// user only a directory it creates itself.
	dir := filepath.Join(os.TempDir(), dirPrefix+rand.Text())
	s.dir = dir
	c, err := localpg.Start(ctx, localpg.Options{DataDir: dir, Fast: true})
	if err != nil {
		return fmt.Errorf("start a throwaway PostgreSQL in %s (set TMPDIR to move it, or %s to use a running server): %w", dir, envURL, err)
	}
	s.cluster = c
	s.adminURL, err = withDatabase(c.URL(), "postgres")
	return err
}

// migrateTemplate applies the migrations, once per test binary, and closes
// its pool: CREATE DATABASE refuses a template anyone is connected to.
func (s *server) migrateTemplate(ctx context.Context) error {
	u, err := withDatabase(s.adminURL, s.template)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Apply(ctx, pool); err != nil {
		return fmt.Errorf("migrate %s: %w", s.template, err)
	}
	return nil
}

// close undoes setup, as far as it got.
func (s *server) close() error {
	ctx := context.Background()
	var errs []error
	if s.pool != nil {
		s.pool.Close()
	}
	// A throwaway cluster goes as a whole; a shared server keeps what we
	// leave.
	if s.cluster == nil && s.admin != nil {
		for _, name := range []string{s.testDB, s.template} {
			if name != "" {
				errs = append(errs, s.dropDatabase(ctx, name))
			}
		}
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cluster != nil {
		if err := s.cluster.Stop(); err != nil {
			// Keep the directory: a later run's reapOrphans retries.
			return errors.Join(append(errs, err)...)
		}
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

func (s *server) createDatabase(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// dropDatabase uses FORCE (PostgreSQL 13+) so that a connection a test
// leaked cannot keep the database alive.
func (s *server) dropDatabase(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// reapOrphans removes the clusters of earlier test binaries that died before
// Main could stop them (a panic, -timeout): their postmasters outlive them.
// localpg.Remove leaves alone any that a live process still holds.
func reapOrphans(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*")) // the pattern is valid
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < orphanAge {
			continue
		}
		_ = localpg.Remove(ctx, d) // in use, or another user's: not ours to clear
	}
}

// newName returns a database name no other test binary will pick, even on a
// server that several share.
func newName(kind string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails
	return "birdcar_test_" + kind + "_" + hex.EncodeToString(b)
}

// withDatabase returns the URL u with its database replaced by name.
func withDatabase(u, name string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		// Not err itself: it may quote the URL, password included.
		return "", fmt.Errorf("%s must be a postgres:// URL", envURL)
	}
	parsed.Path = "/" + name
	parsed.RawPath = ""
	return parsed.String(), nil
}
