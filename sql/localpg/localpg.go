// Package localpg runs BirdCar's own private PostgreSQL cluster from the
// server binaries installed on the machine, for `go run ./cmd/birdcar`
// without DATABASE_URL and for tests.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	superuser = "birdcar"
	database  = "birdcar"
	// pgdataName is PGDATA inside Options.DataDir, which also holds the
	// server log and the lock file: initdb wants an empty directory.
	pgdataName = "pgdata"
	logName    = "postgres.log"
	// startAttempts bounds retries when another process takes the free port
	// between our probe and the server's bind.
	startAttempts = 5
	// pgCtlWait is pg_ctl's -t, in seconds, for start and stop.
	pgCtlWait = "60"
)

// Options configures Start.
type Options struct {
	// DataDir holds the cluster: created if missing, reused if it already
	// holds one.
	DataDir string
	// Logger receives progress lines; nil discards them.
	Logger *slog.Logger
	// Fast trades durability for speed (fsync, synchronous_commit and
	// full_page_writes off): for throwaway test clusters only.
	Fast bool
	// Port is the 127.0.0.1 port to listen on; 0 picks a free one. A fixed
	// port lets a restarted cluster keep its URL, so pools reconnect.
	Port int
}

// Cluster is a running private PostgreSQL server, listening on a loopback
// port, with a "birdcar" superuser whose password only the user running
// BirdCar can read.
type Cluster struct {
	srv      server
	port     int
	password string
	lock     *os.File
	log      *slog.Logger

	stopOnce sync.Once
	stopErr  error
}

// Start initialises the cluster in opts.DataDir if needed, starts it on
// opts.Port or a free 127.0.0.1 port and creates the birdcar database if
// missing. It returns an error wrapping ErrNoBinaries when PostgreSQL is not
// installed and one wrapping ErrInUse when another live Cluster owns the
// directory.
//
// A server still running in DataDir with no owner (its BirdCar process
// crashed) is stopped with a fast shutdown and started afresh: its port and
// settings are not ours to trust, and the data survives.
//
// DataDir must not be a symbolic link, nor a directory that is not empty
// and not BirdCar's (the error wraps ErrDataDir). A cluster made before
// BirdCar set passwords, which trusted every local user, gets one.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("localpg: Options.DataDir is empty")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := prepare(opts.DataDir)
	if err != nil {
		return nil, err
	}
	lock, err := lockDataDir(srv.dataDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{srv: srv, lock: lock, log: log}
	// Under the lock, so processes starting together agree on it.
	if c.password, err = srv.password(); err != nil {
		unlockDataDir(lock)
		return nil, err
	}
	if err := c.start(ctx, opts.Fast, opts.Port); err != nil {
		unlockDataDir(lock)
		return nil, err
	}
	return c, nil
}

// URL is the connection string of the birdcar database, password included.
func (c *Cluster) URL() string {
	return c.url(database)
}

// Stop shuts the server down and waits until no server process is left. It
// may be called more than once; later calls return the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		defer unlockDataDir(c.lock)
		c.log.Info("stopping PostgreSQL")
		ctx := context.Background()
		err := c.srv.stop(ctx, "fast")
		if err != nil {
			// A fast shutdown still ends with a checkpoint; if it cannot
			// finish, an immediate one ends every process and leaves crash
			// recovery to the next start.
			if c.srv.stop(ctx, "immediate") == nil {
				c.log.Warn("PostgreSQL needed an immediate shutdown", "err", err)
				err = nil
			}
		}
		c.stopErr = err
	})
	return c.stopErr
}

// Remove stops the server in dataDir, if one is running, and deletes
// dataDir. It is for throwaway clusters, such as those of test runs that died
// before they could stop theirs, and returns an error wrapping ErrInUse while
// a live Cluster owns dataDir.
func Remove(ctx context.Context, dataDir string) error {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	lock, err := lockDataDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlockDataDir(lock)
	srv := server{dataDir: dir}
	if _, err := os.Stat(srv.pidFile()); err == nil {
		if srv.bin, err = FindBinaries(); err != nil {
			return err
		}
		if srv.cred, err = serverCredential(); err != nil {
			return err
		}
		running, err := srv.running(ctx)
		if err != nil {
			return err
		}
		if running {
			// No need for a clean shutdown: the data goes next.
			if err := srv.stop(ctx, "immediate"); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(dir)
}

// prepare finds the binaries and makes the data directory ready for the
// user the server runs as.
func prepare(dataDir string) (server, error) {
	bin, err := FindBinaries()
	if err != nil {
		return server{}, err
	}
	cred, err := serverCredential()
	if err != nil {
		return server{}, err
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return server{}, err
	}
	if err := makeDataDir(dir, cred); err != nil {
		return server{}, err
	}
	// Resolve the parents' symlinks: the permission check must walk the
	// real chain, and servesPGDATA compares against the kernel's resolved
	// working directory.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return server{}, err
	}
	if cred != nil {
		if err := checkReachable(filepath.Dir(dir), cred); err != nil {
			return server{}, err
		}
	}
	return server{bin: bin, dataDir: dir, cred: cred}, nil
}

func (c *Cluster) start(ctx context.Context, fast bool, fixedPort int) error {
	if err := c.srv.initialise(ctx, fast, c.password, c.log); err != nil {
		return err
	}
	// We hold the lock, so a server running here has lost its owner.
	running, err := c.srv.running(ctx)
	if err != nil {
		return err
	}
	if running {
		c.log.Info("stopping PostgreSQL left running by an earlier run in " + c.srv.pgdata())
		if err := c.srv.stop(ctx, "fast"); err != nil {
			return err
		}
	} else if err := os.Remove(c.srv.pidFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A stale pid file whose pid now names a live process (a zombie,
		// or anything after a reboot) makes the postmaster refuse to
		// start; running has just ruled out that it is one of ours.
		return fmt.Errorf("remove stale pid file: %w", err)
	}
	if trusts, err := c.srv.trusts(c.srv.pgdata()); err != nil {
		return err
	} else if trusts {
		c.log.Info("PostgreSQL in " + c.srv.pgdata() + " let every local user in: setting a password, kept in " + c.srv.passwordPath())
		if err := c.srv.requirePassword(ctx, c.srv.pgdata(), c.password); err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		port := fixedPort
		if port == 0 {
			if port, err = freePort(); err != nil {
				return err
			}
		}
		err = c.srv.start(ctx, port, fast)
		if err == nil {
			c.port = port
			break
		}
		// Retrying a fixed port that is taken would only fail again.
		if !errors.Is(err, errPortTaken) || fixedPort != 0 || attempt == startAttempts {
			return err
		}
	}
	c.log.Info(fmt.Sprintf("PostgreSQL listening on 127.0.0.1:%d", c.port), "data", c.srv.pgdata())
	if err := c.createDatabase(ctx); err != nil {
		_ = c.srv.stop(context.WithoutCancel(ctx), "immediate") // the error above is the one to report
		return err
	}
	return nil
}

func (c *Cluster) url(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(superuser, c.password),
		Host: fmt.Sprintf("127.0.0.1:%d", c.port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL on port %d: %w", c.port, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	return nil
}

// freePort asks the kernel for an unused loopback port. Another process may
// take it before the server binds; start retries when that happens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errPortTaken marks a start that failed only because the port was taken.
var errPortTaken = errors.New("port already in use")

// server runs the PostgreSQL binaries against one data directory.
type server struct {
	bin     string
	dataDir string
	cred    *syscall.Credential // nil: run as ourselves
}

func (s server) pgdata() string  { return filepath.Join(s.dataDir, pgdataName) }
func (s server) logPath() string { return filepath.Join(s.dataDir, logName) }
func (s server) pidFile() string { return filepath.Join(s.pgdata(), "postmaster.pid") }

// initialise runs initdb unless PGDATA already holds a cluster. initdb fills
// a scratch directory renamed into place when complete, so an interrupted
// initdb never leaves a half-made cluster that later starts would trust.
// The scratch cluster trusts everyone only until requirePassword, before
// any server runs on it: one way to a password for new clusters and old.
func (s server) initialise(ctx context.Context, fast bool, password string, log *slog.Logger) error {
	if s.initialised() {
		return nil
	}
	scratch := s.pgdata() + ".initdb"
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	log.Info("initialising PostgreSQL in " + s.pgdata())
	// Trust only until requirePassword below, with no server running.
	args := []string{"-D", scratch, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C"}
	if fast {
		args = append(args, "-N") // skip fsync: a test cluster does not outlive a crash
	}
	if out, err := s.run(ctx, "initdb", args...); err != nil {
		return fmt.Errorf("initdb in %s: %w%s", s.pgdata(), err, tail(out))
	}
	if err := s.requirePassword(ctx, scratch, password); err != nil {
		return err
	}
	return os.Rename(scratch, s.pgdata())
}

// start runs the server on port and waits until it accepts connections.
func (s server) start(ctx context.Context, port int, fast bool) error {
	settings := []string{
		"port=" + strconv.Itoa(port),
		"listen_addresses=127.0.0.1",
		// No socket: the default /var/run/postgresql may not be writable.
		// pg_ctl hands -o to /bin/sh, which turns '' into an empty value.
		"unix_socket_directories=''",
		"max_connections=200",
		// No DETAIL lines: a unique violation's names the duplicate value,
		// a customer's phone number.
		"log_error_verbosity=terse",
	}
	if fast {
		settings = append(settings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
	// Settings go on the command line, not into postgresql.auto.conf, so
	// the port never outlives the run that chose it.
	opts := "-c " + strings.Join(settings, " -c ")
	offset := s.logSize()
	out, err := s.run(ctx, "pg_ctl", "start", "-w", "-t", pgCtlWait, "-D", s.pgdata(), "-l", s.logPath(), "-o", opts)
	if err == nil {
		return nil
	}
	logged := s.logSince(offset)
	// pg_ctl gives up on timeout or cancellation with the server maybe
	// still coming up: leave no process behind.
	_ = s.stop(context.WithoutCancel(ctx), "immediate")
	if bytes.Contains(logged, []byte("could not bind")) {
		err = fmt.Errorf("%w: %w", errPortTaken, err)
	}
	if len(logged) == 0 {
		logged = out // the shell could not even open the log file
	}
	return fmt.Errorf("pg_ctl start in %s: %w (log %s)%s", s.pgdata(), err, s.logPath(), tail(logged))
}

// running reports whether a live server owns PGDATA's postmaster.pid. A
// stale pid file counts as not running.
func (s server) running(ctx context.Context) (bool, error) {
	pidFile, err := os.ReadFile(s.pidFile())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	out, err := s.run(ctx, "pg_ctl", "status", "-D", s.pgdata())
	var exit *exec.ExitError
	switch {
	case err == nil:
		line, _, _ := strings.Cut(string(pidFile), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		return err != nil || s.servesPGDATA(pid), nil // pg_ctl could read it, so trust pg_ctl if we cannot
	case errors.As(err, &exit) && exit.ExitCode() == 3: // "no server running"
		return false, nil
	default:
		return false, fmt.Errorf("pg_ctl status in %s: %w%s", s.pgdata(), err, tail(out))
	}
}

// servesPGDATA double-checks pg_ctl status, which only asks whether pid is
// alive. A stale pid file may name a pid that now belongs to another process
// (after a reboot, even another server's, as the same user) or, where PID 1
// reaps slowly, a zombie: signalling it would hit an innocent process. Every
// process of a server works in its PGDATA, so /proc/pid/cwd tells; where
// there is no /proc, trust pg_ctl.
func (s server) servesPGDATA(pid int) bool {
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err == nil {
		return cwd == s.pgdata()
	}
	_, err = os.Stat("/proc/self/cwd")
	return err != nil
}

// stop shuts the server down in mode ("fast", "immediate") and waits for
// postmaster.pid to go, which the postmaster removes after its last child
// has exited. A server already stopped is not an error.
func (s server) stop(ctx context.Context, mode string) error {
	offset := s.logSize()
	out, err := s.run(ctx, "pg_ctl", "stop", "-w", "-t", pgCtlWait, "-D", s.pgdata(), "-m", mode)
	if err == nil {
		return nil
	}
	if running, rerr := s.running(ctx); rerr == nil && !running {
		return nil
	}
	if logged := s.logSince(offset); len(logged) > 0 {
		out = logged
	}
	return fmt.Errorf("pg_ctl stop -m %s in %s: %w%s", mode, s.pgdata(), err, tail(out))
}

// run runs a PostgreSQL binary (see command) and returns its output.
func (s server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return s.command(ctx, name, args...).CombinedOutput()
}

// command prepares a PostgreSQL binary to run as the server user, in its
// own process group so a Ctrl-C in the terminal reaches only us and we stop
// the server in order.
func (s server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dataDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	// On cancellation end the whole group: initdb's bootstrap backend too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Should a child keep the output pipe open, do not wait on it forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (s server) logSize() int64 {
	fi, err := os.Stat(s.logPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what the server logged after offset: the log file is
// shared by every run on this data directory.
func (s server) logSince(offset int64) []byte {
	f, err := os.Open(s.logPath())
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	return b
}

// tail formats the last lines of a program's output for an error message,
// one indented line each, so the cause is there without opening the log.
func tail(out []byte) string {
	const keep = 8
	var lines []string
	for l := range strings.SplitSeq(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n\t" + strings.Join(lines, "\n\t")
}
