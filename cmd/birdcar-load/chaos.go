package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/jobs/messagebird/fakebird"
	"birdcar/sql/localpg"
	domain "birdcar/sql/ride"
)

const chaosUsage = "usage: birdcar-load chaos [-birdcar BINARY] [-rate N] [-duration D] [-kill F,F] [-pg-restart F] [flags]"

// Webhook retries follow MessageBird's habit: the same id again, waiting
// longer each time, until BirdCar answers 200.
const (
	webhookRetryFirst = 500 * time.Millisecond
	webhookRetryMax   = 5 * time.Second
)

// startTimeout bounds how long BirdCar may take to answer /healthz after a
// (re)start.
const startTimeout = 30 * time.Second

// queryTimeout bounds the harness's own queries.
const queryTimeout = 10 * time.Second

// stopTimeout is BirdCar's own shutdown budget (HTTP, then workers) with a
// margin; past it the process is killed.
const stopTimeout = 30 * time.Second

// chaosConfig is the parsed command line of `birdcar-load chaos`.
type chaosConfig struct {
	birdcar     string
	rides       int
	numbers     int
	rate        float64
	duration    time.Duration
	grace       time.Duration
	drain       time.Duration
	failRate    float64
	timeoutRate float64
	latency     time.Duration
	maxAttempts int
	kills       fractions
	pgRestarts  fractions
	env         envList
	keep        bool
	json        bool
}

// fractions is a flag of comma-separated fractions of -duration.
type fractions []float64

func (f *fractions) String() string {
	parts := make([]string, len(*f))
	for i, v := range *f {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (f *fractions) Set(s string) error {
	*f = nil
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		v, err := strconv.ParseFloat(part, 64)
		if err != nil || v <= 0 || v >= 1 {
			return fmt.Errorf("%q is not a fraction between 0 and 1", part)
		}
		*f = append(*f, v)
	}
	return nil
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(s string) error {
	if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", s)
	}
	*e = append(*e, s)
	return nil
}

// Bounds of a run, so that a typo cannot start an endless or huge one.
const (
	maxChaosWebhooks = 100_000
	maxChaosWait     = 30 * time.Minute
)

func parseChaosConfig(args []string) (chaosConfig, error) {
	fs := flag.NewFlagSet("birdcar-load chaos", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), chaosUsage)
		fs.PrintDefaults()
	}
	c := chaosConfig{kills: fractions{0.25, 0.6}, pgRestarts: fractions{0.45}}
	fs.StringVar(&c.birdcar, "birdcar", "", "BirdCar binary to run (default: go build ./cmd/birdcar of the module here)")
	fs.IntVar(&c.rides, "rides", 300, "rides to create before the traffic")
	fs.IntVar(&c.numbers, "numbers", 50, "proxy numbers in the pool")
	fs.Float64Var(&c.rate, "rate", 50, "new SMS webhooks a second (retries come on top)")
	fs.DurationVar(&c.duration, "duration", time.Minute, "how long new webhooks are sent")
	fs.DurationVar(&c.grace, "grace", 30*time.Second, "how long past -duration an unacknowledged webhook is still retried")
	fs.DurationVar(&c.drain, "drain", 2*time.Minute, "how long past -duration to wait for every forward")
	fs.Float64Var(&c.failRate, "fail-rate", 0.3, "fraction of sends the fake MessageBird answers 500")
	fs.Float64Var(&c.timeoutRate, "timeout-rate", 0.05, "fraction of sends the fake never answers")
	fs.DurationVar(&c.latency, "latency", 0, "the fake's delay before each answer")
	fs.IntVar(&c.maxAttempts, "max-attempts", 25, "BirdCar's SEND_MAX_ATTEMPTS")
	fs.Var(&c.kills, "kill", "when to SIGKILL and restart BirdCar, as fractions of -duration")
	fs.Var(&c.pgRestarts, "pg-restart", "when to restart PostgreSQL (fast stop, start), as fractions of -duration")
	fs.Var(&c.env, "env", "extra KEY=VALUE for BirdCar's environment (repeatable)")
	fs.BoolVar(&c.keep, "keep", false, "keep the run's directory (logs, database) even when it passes")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return chaosConfig{}, err
	}
	if fs.NArg() > 0 {
		return chaosConfig{}, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), chaosUsage)
	}
	var problems []string
	check := func(ok bool, msg string) {
		if !ok {
			problems = append(problems, msg)
		}
	}
	check(c.rides >= 1 && c.rides <= maxRides, fmt.Sprintf("-rides must be from 1 to %d", maxRides))
	check(c.numbers >= 1 && c.numbers < 1e6, "-numbers must be from 1 to 999999")
	check(c.rate > 0 && c.duration > 0 && c.rate*c.duration.Seconds() <= maxChaosWebhooks,
		fmt.Sprintf("-rate and -duration must be positive, with at most %d webhooks in all", maxChaosWebhooks))
	for _, d := range []time.Duration{c.duration, c.grace, c.drain, c.latency} {
		check(d >= 0 && d <= maxChaosWait, fmt.Sprintf("durations must be from 0 to %s", maxChaosWait))
	}
	check(c.failRate >= 0 && c.timeoutRate >= 0 && c.failRate+c.timeoutRate <= 0.9,
		"-fail-rate and -timeout-rate must be fractions adding up to at most 0.9")
	check(c.maxAttempts >= 1 && c.maxAttempts <= 100, "-max-attempts must be from 1 to 100")
	if len(problems) > 0 {
		return chaosConfig{}, fmt.Errorf("%s\n%s", strings.Join(problems, "; "), chaosUsage)
	}
	return c, nil
}

// chaosReport is the result of a chaos run: the load tool's report (the
// setup and webhook phases, every delivery and retry included, and the end
// to end SMS accounting) plus what the chaos did and what it cost.
type chaosReport struct {
	report
	Settings       chaosSettings    `json:"settings"`
	Events         []chaosEvent     `json:"events"`
	Sent           int              `json:"sent"`           // distinct webhooks (MessageBird ids)
	Unacknowledged int              `json:"unacknowledged"` // never answered 200, retries and grace included
	Forwards       int              `json:"forwards"`       // the fake's accepted forwards of the run's SMS, duplicates included
	Drained        bool             `json:"drained"`        // every acknowledged SMS forwarded and no send left in the queue
	QueueLeft      int              `json:"queue_left"`     // send jobs not finished when the wait ended
	LostBy         map[string]int64 `json:"lost_by"`        // lost forwards by message status / job state
	Duplicates     []duplicate      `json:"duplicates"`
	MessageBird    fakebird.Counts  `json:"messagebird"`
	CPU            cpuReport        `json:"cpu_s"`
	Dir            string           `json:"dir,omitempty"` // the run's directory, when kept
}

// chaosSettings are the knobs that shape the numbers.
type chaosSettings struct {
	Rate        float64 `json:"rate"`
	DurationS   float64 `json:"duration_s"`
	FailRate    float64 `json:"fail_rate"`
	TimeoutRate float64 `json:"timeout_rate"`
	MaxAttempts int     `json:"max_attempts"`
}

// chaosEvent is one thing done to the stack, or that happened to it.
type chaosEvent struct {
	AtS   float64 `json:"at_s"`   // since the traffic started
	What  string  `json:"what"`   // "sigkill birdcar", "restart postgresql", "birdcar exited"
	DownS float64 `json:"down_s"` // until it answered again
	Err   string  `json:"error,omitempty"`
}

// duplicate is an acknowledged SMS that MessageBird accepted more than once.
type duplicate struct {
	Seq       int       `json:"seq"`
	AcceptedS []float64 `json:"accepted_s"` // when, since the traffic started
	Nearest   string    `json:"nearest_event"`
}

// cpuReport splits the machine's CPU time over the run. Other is what the
// rest of the machine used: on a shared machine, a figure to distrust.
type cpuReport struct {
	WallS      float64 `json:"wall_s"`
	Cores      int     `json:"cores"`
	BirdCar    float64 `json:"birdcar"`
	PostgreSQL float64 `json:"postgresql"`
	Harness    float64 `json:"harness"` // this process, fake MessageBird included
	Other      float64 `json:"other"`
	Measured   bool    `json:"measured"` // false where /proc is missing
}

// runChaos is `birdcar-load chaos`: it writes the report to stdout and
// what it is doing to progress.
func runChaos(ctx context.Context, args []string, stdout, progress io.Writer) error {
	cfg, err := parseChaosConfig(args)
	if err != nil {
		return err
	}
	ch := &chaos{cfg: cfg, progress: progress, begin: time.Now()}
	harness0, machine0 := harnessCPU(), machineBusy()
	rep, runErr := ch.run(ctx)
	if runErr == nil {
		runErr = rep.verdict()
	}
	ch.close(runErr == nil && !cfg.keep)
	// After close: the last BirdCar process has exited and been counted.
	rep.CPU = ch.cpu(time.Since(ch.begin), harnessCPU()-harness0, machineBusy()-machine0, machine0 > 0)
	if ch.dir != "" && (runErr != nil || cfg.keep) {
		rep.Dir = ch.dir
	}
	var buf bytes.Buffer
	if err := rep.write(&buf, cfg.json); err != nil {
		return errors.Join(runErr, err)
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return errors.Join(runErr, fmt.Errorf("write report: %w", err))
	}
	return runErr
}

// verdict fails a run in which an acknowledged SMS was lost, a webhook was
// never acknowledged, or BirdCar died of its own accord.
func (r *chaosReport) verdict() error {
	var problems []string
	if r.Interrupted {
		problems = append(problems, "interrupted: the report covers only part of the run")
	}
	if r.SMS != nil && r.SMS.Lost > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d acknowledged SMS lost", r.SMS.Lost, r.SMS.Acknowledged))
	}
	if r.Unacknowledged > 0 {
		problems = append(problems, fmt.Sprintf("%d webhooks never acknowledged", r.Unacknowledged))
	}
	for _, e := range r.Events {
		if e.Err != "" {
			problems = append(problems, fmt.Sprintf("%s at %.1fs: %s", e.What, e.AtS, e.Err))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// chaos is one run: its directory, PostgreSQL, fake MessageBird and the
// BirdCar process it kills and restarts.
type chaos struct {
	cfg      chaosConfig
	progress io.Writer
	begin    time.Time

	dir    string
	pgDir  string
	pgPort int
	fake   *fakebird.Server
	bin    string
	env    []string
	base   *url.URL
	log    *os.File // BirdCar's output, every run of it
	client *http.Client

	mu         sync.Mutex // guards what follows
	cluster    *localpg.Cluster
	proc       *birdcarProc
	start      time.Time // of the traffic; events are timed from it
	events     []chaosEvent
	birdcarCPU time.Duration // of the processes that have exited
	pgCPU      time.Duration // of the servers that have stopped
	closing    bool
}

// birdcarProc is one run of the BirdCar binary.
type birdcarProc struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed once it has exited
	expected bool          // we stopped it; guarded by chaos.mu
}

func (ch *chaos) logf(format string, args ...any) {
	fmt.Fprintf(ch.progress, "[%6.1fs] %s\n", time.Since(ch.begin).Seconds(), fmt.Sprintf(format, args...))
}

// run starts the stack, creates the rides, sends the webhooks while the
// chaos goes on, waits for the forwards and accounts for them. The report
// is never nil.
func (ch *chaos) run(ctx context.Context) (*chaosReport, error) {
	cfg := ch.cfg
	runID := fmt.Sprintf("%08x", mrand.Uint32())
	rep := &chaosReport{
		report: report{RunID: runID, Mode: "chaos"},
		Settings: chaosSettings{Rate: cfg.rate, DurationS: cfg.duration.Seconds(), FailRate: cfg.failRate,
			TimeoutRate: cfg.timeoutRate, MaxAttempts: cfg.maxAttempts},
	}
	defer func() {
		rep.Events = ch.eventsCopy()
		if ch.fake != nil {
			rep.MessageBird = ch.fake.Counts()
		}
	}()

	token := randomHex(16)
	if err := ch.startStack(ctx, token); err != nil {
		return rep, err
	}
	rep.Target = ch.base.String()
	l := &loader{
		cfg:         config{target: ch.base, token: token, rides: cfg.rides, numbers: cfg.numbers},
		client:      ch.client,
		runID:       runID,
		phonePrefix: mrand.IntN(1000),
	}
	ch.logf("creating %d rides", cfg.rides)
	rides, setup, err := l.setup(ctx)
	rep.Phases = append(rep.Phases, setup)
	rep.Rides = len(rides)
	if err != nil {
		rep.Interrupted = ctx.Err() != nil
		return rep, fmt.Errorf("setup: %w", err)
	}

	ch.logf("sending %.0f webhooks a second for %s", cfg.rate, cfg.duration)
	trafficCtx, stopTraffic := context.WithCancelCause(ctx)
	defer stopTraffic(nil)
	ch.mu.Lock()
	ch.start = time.Now()
	ch.mu.Unlock()
	chaosDone := make(chan error, 1)
	go func() {
		err := ch.schedule(trafficCtx)
		if err != nil {
			stopTraffic(err)
		}
		chaosDone <- err
	}()
	sends, phase := ch.traffic(trafficCtx, l, rides)
	chaosErr := <-chaosDone
	rep.Phases = append(rep.Phases, phase)
	rep.Sent = len(sends)
	for _, s := range sends {
		if !s.acked {
			rep.Unacknowledged++
		}
	}
	if ctx.Err() != nil || chaosErr != nil {
		rep.Interrupted = ctx.Err() != nil
		rep.SMS = l.account(sends, rides, ch.fake.Accepted())
		return rep, chaosErr
	}

	ch.logf("waiting for the forwards")
	trafficEnd := ch.start.Add(cfg.duration)
	got, drained, left, err := ch.awaitDrain(ctx, l, sends, trafficEnd.Add(cfg.drain))
	if err != nil {
		return rep, err
	}
	rep.Drained, rep.QueueLeft = drained, left
	rep.SMS = l.account(sends, rides, got)
	rep.SMS.DrainMS = ms(time.Since(trafficEnd))
	rep.Interrupted = ctx.Err() != nil
	forwards := make([][]time.Time, len(sends))
	for _, a := range got {
		if seq, ok := l.seqOf(a.Body); ok && seq < len(sends) {
			forwards[seq] = append(forwards[seq], a.ReceivedAt)
			rep.Forwards++
		}
	}
	var lost []string
	for seq, s := range sends {
		switch {
		case s.acked && len(forwards[seq]) == 0:
			lost = append(lost, l.smsID(seq))
		case s.acked && len(forwards[seq]) > 1:
			rep.Duplicates = append(rep.Duplicates, ch.duplicate(seq, forwards[seq]))
		}
	}
	if len(lost) > 0 {
		if rep.LostBy, err = ch.lostBy(ctx, lost); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// startStack builds or finds BirdCar and starts PostgreSQL, the fake
// MessageBird and BirdCar, each on its own loopback port.
func (ch *chaos) startStack(ctx context.Context, token string) error {
	dir, err := os.MkdirTemp("", "birdcar-chaos-")
	if err != nil {
		return err
	}
	ch.dir = dir
	// The PostgreSQL server user (when we are root) must reach pg/ inside.
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	ch.logf("run directory %s", dir)
	if ch.cfg.birdcar != "" {
		// Absolute, as BirdCar runs in the run's directory.
		if ch.bin, err = filepath.Abs(ch.cfg.birdcar); err != nil {
			return err
		}
	} else {
		ch.logf("building birdcar")
		if ch.bin, err = buildBirdCar(ctx, dir); err != nil {
			return err
		}
	}
	if ch.log, err = os.Create(filepath.Join(dir, "birdcar.log")); err != nil {
		return err
	}

	ch.pgDir = filepath.Join(dir, "pg")
	cluster, err := localpg.Start(ctx, localpg.Options{DataDir: ch.pgDir})
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	ch.cluster = cluster
	pgURL, err := url.Parse(cluster.URL())
	if err != nil {
		return err
	}
	// A restart keeps the port, so BirdCar's pool finds the server again.
	if ch.pgPort, err = strconv.Atoi(pgURL.Port()); err != nil {
		return err
	}
	ch.logf("PostgreSQL on 127.0.0.1:%d", ch.pgPort)

	key := randomHex(12)
	ch.fake, err = fakebird.Start(fakebird.Options{Key: key, Latency: ch.cfg.latency,
		FailRate: ch.cfg.failRate, TimeoutRate: ch.cfg.timeoutRate})
	if err != nil {
		return err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	ch.base = &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
	ch.client = newClient(maxInFlight + setupConcurrency)
	// Nothing of this shell's environment: a MESSAGEBIRD_SIGNING_KEY or
	// DATABASE_URL there must not change the run. The directory holds no
	// .env either.
	ch.env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + cluster.URL(),
		fmt.Sprintf("PORT=%d", port),
		"API_TOKENS=" + token,
		"ADMIN_PASSWORD=" + randomHex(12),
		"MESSAGEBIRD_API_KEY=" + key,
		"MESSAGEBIRD_BASE_URL=" + ch.fake.URL,
		"ALLOW_UNSIGNED_WEBHOOKS=1", // the load tool does not sign its webhooks
		fmt.Sprintf("SEND_MAX_ATTEMPTS=%d", ch.cfg.maxAttempts),
	}, ch.cfg.env...)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.startBirdCarLocked(ctx)
}

// buildBirdCar builds ./cmd/birdcar of the module the working directory is
// in; the build cache makes a rebuild quick.
func buildBirdCar(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside BirdCar's module: run from its checkout or pass -birdcar")
	}
	bin := filepath.Join(dir, "birdcar")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/birdcar")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/birdcar in %s: %w\n%s", build.Dir, err, out)
	}
	return bin, nil
}

// startBirdCarLocked starts BirdCar and waits until it answers /healthz.
// A watcher restarts it, as a supervisor would, should it exit unasked.
func (ch *chaos) startBirdCarLocked(ctx context.Context) error {
	cmd := exec.Command(ch.bin, "serve", "--role=all")
	cmd.Dir, cmd.Env = ch.dir, ch.env
	cmd.Stdout, cmd.Stderr = ch.log, ch.log
	// Its own process group: a Ctrl-C here reaches only us, and we stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start birdcar: %w", err)
	}
	p := &birdcarProc{cmd: cmd, done: make(chan struct{})}
	ch.proc = p
	go ch.watch(ctx, p)
	err := ch.awaitHealthy(ctx, p)
	if err != nil {
		// Not to be restarted by its watcher: the caller reports the failure.
		p.expected = true
		_ = cmd.Process.Kill() // it may have exited already
	}
	return err
}

// awaitHealthy waits until BirdCar answers /healthz.
func (ch *chaos) awaitHealthy(ctx context.Context, p *birdcarProc) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ch.base.JoinPath("/healthz").String(), nil)
		if err != nil {
			return err
		}
		if resp, err := ch.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("birdcar exited at start-up (%s): see %s", p.cmd.ProcessState, ch.log.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("birdcar did not answer /healthz within %s: see %s", startTimeout, ch.log.Name())
}

// watch waits for p to exit, counts its CPU time and, when nobody asked it
// to stop, records that and starts BirdCar again.
func (ch *chaos) watch(ctx context.Context, p *birdcarProc) {
	_ = p.cmd.Wait() // its exit is judged below, by whether we asked for it
	close(p.done)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.birdcarCPU += p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	if p.expected || ch.closing || ctx.Err() != nil {
		return
	}
	ch.logf("birdcar exited on its own (%s): restarting it", p.cmd.ProcessState)
	at := time.Now()
	err := ch.startBirdCarLocked(ctx)
	ch.recordLocked(at, "birdcar exited", fmt.Sprintf("exited on its own (%s); restarted", p.cmd.ProcessState), err)
}

// recordLocked notes an event that began at at and is over now.
func (ch *chaos) recordLocked(at time.Time, what, errText string, err error) {
	if err != nil {
		errText = strings.TrimPrefix(errText+"; "+err.Error(), "; ")
	}
	ch.events = append(ch.events, chaosEvent{AtS: at.Sub(ch.start).Seconds(), What: what,
		DownS: time.Since(at).Seconds(), Err: errText})
}

func (ch *chaos) eventsCopy() []chaosEvent {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return slices.Clone(ch.events)
}

// schedule runs the -kill and -pg-restart events at their times, one at a
// time, and returns the first failure to bring a part back.
func (ch *chaos) schedule(ctx context.Context) error {
	type planned struct {
		at   float64
		what string
		do   func(context.Context) error
	}
	var plan []planned
	for _, f := range ch.cfg.kills {
		plan = append(plan, planned{f, "sigkill birdcar", ch.killBirdCar})
	}
	for _, f := range ch.cfg.pgRestarts {
		plan = append(plan, planned{f, "restart postgresql", ch.restartPostgres})
	}
	slices.SortFunc(plan, func(a, b planned) int { return cmp.Compare(a.at, b.at) })
	for _, p := range plan {
		due := ch.start.Add(time.Duration(p.at * float64(ch.cfg.duration)))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(due)):
		}
		ch.logf("%s", p.what)
		at := time.Now()
		err := p.do(ctx)
		ch.mu.Lock()
		ch.recordLocked(at, p.what, "", err)
		ch.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", p.what, err)
		}
		ch.logf("%s: back after %.2fs", p.what, time.Since(at).Seconds())
	}
	return nil
}

// killBirdCar SIGKILLs BirdCar, as the kernel's OOM killer or a lost host
// would, and starts it again at once.
func (ch *chaos) killBirdCar(ctx context.Context) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	p := ch.proc
	p.expected = true
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return ch.startBirdCarLocked(ctx)
}

// restartPostgres stops PostgreSQL with a fast shutdown (sessions ended,
// transactions in flight rolled back) and starts it again on its port.
func (ch *chaos) restartPostgres(ctx context.Context) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.pgCPU += postgresCPU(ch.pgDir)
	if err := ch.cluster.Stop(); err != nil {
		return err
	}
	c, err := localpg.Start(ctx, localpg.Options{DataDir: ch.pgDir, Port: ch.pgPort})
	if err != nil {
		ch.cluster = nil
		return err
	}
	ch.cluster = c
	return nil
}

// traffic sends -rate new webhooks a second for -duration, each retried
// with the same id until BirdCar acknowledges it or the grace is over. New
// webhooks are due by the clock, whatever happened to the earlier ones.
func (ch *chaos) traffic(ctx context.Context, l *loader, rides []ride) ([]smsSend, phaseReport) {
	cfg := ch.cfg
	n := int(cfg.rate * cfg.duration.Seconds())
	rec := newRecorder(2 * n)
	sends := make([]smsSend, n)
	endpoint := ch.base.JoinPath("/webhook").String()
	interval := time.Duration(float64(time.Second) / cfg.rate)
	giveUp := ch.start.Add(cfg.duration + cfg.grace)
	ctx, cancel := context.WithDeadline(ctx, giveUp)
	defer cancel()
	// Bounds the requests in flight; retries wait their turn, none is dropped.
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	scheduled := 0
	for seq := range sends {
		if wait := time.Until(ch.start.Add(time.Duration(seq) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		scheduled++
		s := &sends[seq]
		s.ride, s.toDriver = mrand.IntN(len(rides)), mrand.IntN(2) == 0
		wg.Go(func() {
			backoff := webhookRetryFirst
			for {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				l.sendSMS(ctx, rec, endpoint, rides[s.ride], s, seq)
				<-slots
				if s.acked || time.Now().Add(backoff).After(giveUp) {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, webhookRetryMax)
			}
		})
	}
	wg.Wait()
	return sends[:scheduled], rec.report("webhooks", time.Since(ch.start), 0)
}

// awaitDrain waits until every acknowledged SMS has been forwarded and no
// send is left in River's queue, or until the deadline. It returns what
// the fake accepted and how many send jobs were left.
func (ch *chaos) awaitDrain(ctx context.Context, l *loader, sends []smsSend, deadline time.Time) ([]fakebird.Accepted, bool, int, error) {
	ch.mu.Lock()
	dbURL := ch.cluster.URL()
	ch.mu.Unlock()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, false, 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		got := ch.fake.Accepted()
		left, err := (&domain.Service{DB: conn}).UnfinishedSends(ctx)
		if err != nil && ctx.Err() == nil {
			return nil, false, 0, fmt.Errorf("count unfinished sends: %w", err)
		}
		drained := left == 0 && l.allForwarded(sends, got)
		if drained || ctx.Err() != nil || time.Now().After(deadline) {
			return got, drained, int(left), nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}

// lostBy tells where the forwards of lost SMS (by their MessageBird ids)
// were left: the message's status and its send job's state (running:
// stuck in a killed process).
func (ch *chaos) lostBy(ctx context.Context, ids []string) (map[string]int64, error) {
	ch.mu.Lock()
	dbURL := ch.cluster.URL()
	ch.mu.Unlock()
	// Even for an interrupted run: it is one quick query.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	out, err := (&domain.Service{DB: conn}).ForwardStates(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("look up lost forwards: %w", err)
	}
	return out, nil
}

// duplicate describes SMS seq, accepted at the given times, with the event
// closest to its first acceptance: the one that cut the send short.
func (ch *chaos) duplicate(seq int, accepted []time.Time) duplicate {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	d := duplicate{Seq: seq}
	for _, at := range accepted {
		d.AcceptedS = append(d.AcceptedS, at.Sub(ch.start).Seconds())
	}
	best := math.Inf(1)
	for _, e := range ch.events {
		if gap := math.Abs(e.AtS - d.AcceptedS[0]); gap < best {
			best, d.Nearest = gap, fmt.Sprintf("%s at %.1fs", e.What, e.AtS)
		}
	}
	return d
}

// close stops BirdCar gracefully, then the fake and PostgreSQL, and removes
// the run's directory when remove is set.
func (ch *chaos) close(remove bool) {
	ch.mu.Lock()
	ch.closing = true
	p := ch.proc
	ch.mu.Unlock()
	if p != nil {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil {
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				ch.logf("birdcar did not stop within %s of SIGTERM: killing it", stopTimeout)
				_ = p.cmd.Process.Kill() // it may just have exited
				<-p.done
			}
		}
	}
	if ch.fake != nil {
		ch.fake.Close()
	}
	if ch.client != nil {
		ch.client.CloseIdleConnections()
	}
	if ch.cluster != nil {
		ch.pgCPU += postgresCPU(ch.pgDir)
		if err := ch.cluster.Stop(); err != nil {
			ch.logf("stop PostgreSQL: %v", err)
		}
	}
	if ch.log != nil {
		ch.log.Close()
	}
	if remove && ch.dir != "" {
		if err := localpg.Remove(context.Background(), ch.pgDir); err != nil {
			ch.logf("remove %s: %v", ch.pgDir, err)
		}
		if err := os.RemoveAll(ch.dir); err != nil {
			ch.logf("remove %s: %v", ch.dir, err)
		}
	}
}

// cpu splits the run's CPU time; machine is what all cores spent busy.
func (ch *chaos) cpu(wall, harness, machine time.Duration, measured bool) cpuReport {
	ch.mu.Lock()
	birdcar, pg := ch.birdcarCPU, ch.pgCPU
	ch.mu.Unlock()
	r := cpuReport{WallS: wall.Seconds(), Cores: numCPU(), BirdCar: birdcar.Seconds(), PostgreSQL: pg.Seconds(),
		Harness: harness.Seconds(), Measured: measured}
	if measured {
		r.Other = max(0, (machine - birdcar - pg - harness).Seconds())
	}
	return r
}

// harnessCPU is the CPU time this process has used.
func harnessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time all cores have spent busy since boot, from
// /proc/stat (in USER_HZ, 100 a second); zero where there is none.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// postgresCPU is the CPU time used by the server running on the data
// directory under pgDir: its postmaster, the children it has reaped and
// those still alive. Zero where there is no /proc.
func postgresCPU(pgDir string) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	type proc struct {
		ppid  int
		ticks [4]int64 // utime, stime, cutime, cstime
	}
	procs := map[int]proc{}
	postmaster := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		// Fields after the command name, which may hold spaces: state,
		// ppid, … utime (the 12th), stime, cutime, cstime.
		_, rest, _ := bytes.Cut(stat, []byte(") "))
		f := strings.Fields(string(rest))
		if len(f) < 15 {
			continue
		}
		var p proc
		p.ppid, _ = strconv.Atoi(f[1])
		for i := range p.ticks {
			p.ticks[i], _ = strconv.ParseInt(f[11+i], 10, 64)
		}
		procs[pid] = p
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil &&
			bytes.Contains(cmdline, []byte("\x00-D\x00"+pgDir+"/")) {
			postmaster = pid
		}
	}
	pm, ok := procs[postmaster]
	if !ok {
		return 0
	}
	ticks := pm.ticks[0] + pm.ticks[1] + pm.ticks[2] + pm.ticks[3]
	for _, p := range procs {
		if p.ppid == postmaster {
			ticks += p.ticks[0] + p.ticks[1]
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100
}

func numCPU() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "cpu") && !strings.HasPrefix(line, "cpu ") {
			n++
		}
	}
	return n
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}

func (r *chaosReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if err := r.report.write(w, false); err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nchaos (%.0f webhooks/s for %.0fs; MessageBird fails %.0f%%, hangs %.0f%%; %d attempts a send)\n",
		r.Settings.Rate, r.Settings.DurationS, 100*r.Settings.FailRate, 100*r.Settings.TimeoutRate, r.Settings.MaxAttempts)
	for _, e := range r.Events {
		line := fmt.Sprintf("  %6.1fs\t%s\tback after %.2fs", e.AtS, e.What, e.DownS)
		if e.Err != "" {
			line += "\t" + e.Err
		}
		fmt.Fprintln(tw, line)
	}
	fmt.Fprintf(tw, "  webhooks sent\t%d\t(distinct ids; %d deliveries with retries)\n", r.Sent, phaseRequests(r.Phases, "webhooks"))
	fmt.Fprintf(tw, "  never acknowledged\t%d\n", r.Unacknowledged)
	fmt.Fprintf(tw, "  forwards accepted\t%d\n", r.Forwards)
	if r.Drained {
		fmt.Fprintf(tw, "  drained\tyes\n")
	} else {
		fmt.Fprintf(tw, "  drained\tno: %d sends left in the queue\n", r.QueueLeft)
	}
	for where, n := range r.LostBy {
		fmt.Fprintf(tw, "  lost, left as\t%s\t%d\n", where, n)
	}
	for _, d := range r.Duplicates {
		fmt.Fprintf(tw, "  duplicate\tsms %d\taccepted at %s (nearest: %s)\n", d.Seq, seconds(d.AcceptedS), d.Nearest)
	}
	c := r.MessageBird
	fmt.Fprintf(tw, "  MessageBird fake\t%d accepted, %d failed, %d timed out\n", c.Accepted, c.Failed, c.TimedOut)
	if r.CPU.Measured {
		fmt.Fprintf(tw, "  CPU\tbirdcar %.1fs, PostgreSQL %.1fs, harness %.1fs, rest of the machine %.1fs; %d cores × %.1fs\n",
			r.CPU.BirdCar, r.CPU.PostgreSQL, r.CPU.Harness, r.CPU.Other, r.CPU.Cores, r.CPU.WallS)
	}
	if r.Dir != "" {
		fmt.Fprintf(tw, "  kept\t%s\n", r.Dir)
	}
	tw.Flush()
	_, err := w.Write(buf.Bytes())
	return err
}

func phaseRequests(phases []phaseReport, name string) int {
	for _, p := range phases {
		if p.Name == name {
			return p.Requests
		}
	}
	return 0
}

func seconds(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprintf("%.2fs", v)
	}
	return strings.Join(parts, ", ")
}
