package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"birdcar/jobs"
	"birdcar/jobs/messagebird"
	"birdcar/jobs/messagebird/fakebird"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

const processToken = "process-test-token-0123456789"

// process is a birdcar command running as its own OS process: the test
// binary re-executed as main (see TestMain).
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed once it has exited; err is then set
	err  error
}

func startProcess(t *testing.T, args string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append(env, "BIRDCAR_TEST_MAIN=1", "BIRDCAR_TEST_ARGS="+args)...)
	p := &process{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitOutput waits until the process has printed line, as it does once
// started. Until then a SIGTERM finds it still starting: before main has
// installed its handler the signal kills it outright.
func (p *process) waitOutput(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), line) {
		select {
		case <-p.done:
			t.Fatalf("exited (%v) before printing %q\n%s", p.err, line, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 30 s\n%s", line, p.out.String())
		}
	}
}

// workerRunning is what a worker process prints once River has started.
const workerRunning = "BirdCar worker is running"

// stop sends SIGTERM and requires a clean exit within the 30 s budget.
func (p *process) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", p.err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30 s of SIGTERM\n%s", p.out.String())
	}
	return time.Since(start)
}

func waitHealthy(t *testing.T, base string, p *process) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not healthy within 30 s\n%s", base, p.out.String())
}

// apiPost calls the JSON API and decodes the answer.
func apiPost(t *testing.T, base, path string, body any, out any) {
	t.Helper()
	buf, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(buf))
	req.Header.Set("Authorization", "Bearer "+processToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

type apiRide struct {
	ID          int64  `json:"id"`
	ProxyNumber string `json:"proxy_number"`
	customer    string
	driver      string
}

// makeRides creates n rides with distinct people over a few numbers.
func makeRides(t *testing.T, base string, n int) []apiRide {
	t.Helper()
	for i := range 5 {
		var num struct{}
		apiPost(t, base, "/api/v1/numbers", map[string]string{"number": fmt.Sprintf("+319700000%04d", i)}, &num)
	}
	rides := make([]apiRide, n)
	for i := range rides {
		var c, d struct {
			ID    int64  `json:"id"`
			Phone string `json:"phone"`
		}
		apiPost(t, base, "/api/v1/customers", map[string]string{"name": fmt.Sprint("Customer ", i), "phone": fmt.Sprintf("+316100%05d", i)}, &c)
		apiPost(t, base, "/api/v1/drivers", map[string]string{"name": fmt.Sprint("Driver ", i), "phone": fmt.Sprintf("+316200%05d", i)}, &d)
		apiPost(t, base, "/api/v1/rides", map[string]any{"customer_id": c.ID, "driver_id": d.ID, "start": "A", "destination": "B",
			"pickup_at": time.Now().Add(time.Hour).Format(time.RFC3339)}, &rides[i])
		rides[i].customer, rides[i].driver = c.Phone, d.Phone
	}
	return rides
}

// sms posts an SMS webhook as MessageBird does; it reports whether BirdCar
// acknowledged it.
func sms(base, id string, r apiRide, text string) bool {
	form := url.Values{"id": {id}, "originator": {strings.TrimPrefix(r.customer, "+")},
		"recipient": {strings.TrimPrefix(r.ProxyNumber, "+")}, "payload": {text}}
	resp, err := http.PostForm(base+"/webhook", form)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// processSetup makes a fresh database and a fake MessageBird answering
// after latency, and returns the environment of processes that use them
// and the web process's base URL.
func processSetup(t *testing.T, latency time.Duration) (*pgxpool.Pool, *fakebird.Server, []string, string) {
	t.Helper()
	pool, dbURL := dbtest.FreshDB(t)
	fake, err := fakebird.Start(fakebird.Options{Key: "test_key", Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	port := freePort(t)
	env := []string{"DATABASE_URL=" + dbURL, fmt.Sprintf("PORT=%d", port), "API_TOKENS=" + processToken,
		"MESSAGEBIRD_API_KEY=test_key", "MESSAGEBIRD_BASE_URL=" + fake.URL, "ADMIN_PASSWORD=process-test-password",
		"ALLOW_UNSIGNED_WEBHOOKS=1"} // sms() posts unsigned webhooks
	return pool, fake, env, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// exactlyOnce checks that MessageBird got every outbound message of the
// database exactly once.
func exactlyOnce(t *testing.T, pool *pgxpool.Pool, fake *fakebird.Server) {
	t.Helper()
	rides := &ride.Service{DB: pool}
	want, _ := outbound(t, rides)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := fake.WaitAccepted(ctx, int(want)); err != nil {
		t.Fatalf("MessageBird received %d of %d messages: %v", len(fake.Accepted()), want, err)
	}
	// A worker records a send only after MessageBird answered, and a
	// duplicate may still be on its way: once no send job is left to run,
	// neither can change.
	for {
		left, err := rides.UnfinishedSends(ctx)
		if err == nil && left == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d send jobs still to run after 60 s (%v)", left, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := fake.Accepted()
	seen := map[string]int{}
	for _, a := range got {
		seen[a.Reference]++
	}
	for ref, n := range seen {
		if n > 1 {
			t.Errorf("message %s sent %d times", ref, n)
		}
	}
	if int64(len(seen)) != want || int64(len(got)) != want {
		t.Errorf("MessageBird received %d sends of %d distinct messages, want %d of %d", len(got), len(seen), want, want)
	}
	if _, unsent := outbound(t, rides); unsent != 0 {
		t.Errorf("%d outbound messages not marked sent", unsent)
	}
}

// outbound counts the outbound messages, and those not marked sent.
func outbound(t *testing.T, rides *ride.Service) (all, unsent int64) {
	t.Helper()
	counts, err := rides.MessagesByStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for status, n := range counts {
		if status != ride.StatusReceived && status != ride.StatusUnmatched {
			all += n
		}
	}
	return all, all - counts[ride.StatusSent]
}

// attempts lists the jobs of a kind, through River, with who attempted
// them: how many were never attempted, and the distinct clients that
// attempted them (last, or with ever at any attempt).
func attempts(t *testing.T, client *river.Client[pgx.Tx], kind string, ever bool) (never, clients int) {
	t.Helper()
	res, err := client.JobList(t.Context(), river.NewJobListParams().Kinds(kind).First(10_000))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, j := range res.Jobs {
		switch {
		case len(j.AttemptedBy) == 0:
			never++
		case ever:
			for _, c := range j.AttemptedBy {
				seen[c] = true
			}
		default:
			seen[j.AttemptedBy[len(j.AttemptedBy)-1]] = true
		}
	}
	return never, len(seen)
}

// waitFetching waits until n River clients have fetched work, by inserting
// harmless probe jobs (tidy_rides) until that many distinct ones attempted
// them. A worker process that says it is running can take seconds more to
// fetch on a busy machine, and meanwhile another does all the work.
func waitFetching(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := inserter.Insert(t.Context(), jobs.TidyArgs{}, nil); err != nil {
			t.Fatal(err)
		}
		if _, clients := attempts(t, inserter, jobs.TidyArgs{}.Kind(), true); clients >= n {
			return
		}
		if time.Now().After(deadline) {
			_, clients := attempts(t, inserter, jobs.TidyArgs{}.Kind(), true)
			t.Fatalf("%d of %d workers fetched a job within 30 s", clients, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRoles_OneWebTwoWorkers runs the roles as separate processes on one
// database: the web process takes the API calls and webhooks, the two
// workers share the sends, and each message is sent exactly once.
func TestRoles_OneWebTwoWorkers(t *testing.T) {
	t.Parallel()
	pool, fake, env, base := processSetup(t, 20*time.Millisecond)
	webP := startProcess(t, "serve --role=web", env...)
	waitHealthy(t, base, webP)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	workerA := startProcess(t, "serve --role=worker", append(env, "METRICS_ADDR="+metricsAddr)...)
	workerB := startProcess(t, "serve --role=worker", env...)
	workerA.waitOutput(t, workerRunning)
	workerB.waitOutput(t, workerRunning)
	waitFetching(t, pool, 2) // or the sends below may all go to one

	rides := makeRides(t, base, 30)
	var wg sync.WaitGroup
	for i, r := range rides {
		wg.Go(func() {
			for k := range 3 {
				if !sms(base, fmt.Sprintf("mb-%d-%d", i, k), r, fmt.Sprintf("hello %d %d", i, k)) {
					t.Errorf("SMS %d/%d not acknowledged", i, k)
				}
			}
		})
	}
	wg.Wait()
	exactlyOnce(t, pool, fake) // 60 notifications + 90 forwards

	lister, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if byWeb, workers := attempts(t, lister, ride.SendArgs{}.Kind(), false); byWeb != 0 || workers != 2 {
		t.Errorf("sends worked by %d distinct clients (%d never attempted), want both workers", workers, byWeb)
	}
	// The worker's own /metrics counts the sends it made.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sent := regexp.MustCompile(`(?m)^birdcar_send_attempts_total\{result="sent"\} (\d+)$`).FindStringSubmatch(string(body))
	if sent == nil || sent[1] == "0" {
		t.Errorf("worker metrics lack its sends:\n%.2000s", body)
	}
	for _, p := range []*process{webP, workerA, workerB} {
		p.stop(t)
	}
}

// TestRoles_TwoWebProcessesRouteAlike runs two web processes on one
// database, each answering calls from its own route table, with no grace
// period: a ride created through one is put through by the other at once,
// and a ride ended through one stops routing there at once and in the
// other as soon as the notice arrives.
func TestRoles_TwoWebProcessesRouteAlike(t *testing.T) {
	t.Parallel()
	_, _, env, baseA := processSetup(t, 0)
	env = append(env, "RIDE_GRACE_PERIOD=0s")
	portB := freePort(t)
	baseB := fmt.Sprintf("http://127.0.0.1:%d", portB)
	a := startProcess(t, "serve --role=web", env...)
	b := startProcess(t, "serve --role=web", append(env, fmt.Sprintf("PORT=%d", portB))...)
	waitHealthy(t, baseA, a)
	waitHealthy(t, baseB, b)
	makeRides(t, baseA, 0) // the numbers
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			create, end := baseA, baseB
			if i%2 == 1 {
				create, end = baseB, baseA
			}
			var c, d struct {
				ID    int64  `json:"id"`
				Phone string `json:"phone"`
			}
			apiPost(t, create, "/api/v1/customers", map[string]string{"name": "C", "phone": fmt.Sprintf("+316100%05d", i)}, &c)
			apiPost(t, create, "/api/v1/drivers", map[string]string{"name": "D", "phone": fmt.Sprintf("+316200%05d", i)}, &d)
			var r apiRide
			apiPost(t, create, "/api/v1/rides", map[string]any{"customer_id": c.ID, "driver_id": d.ID, "start": "A", "destination": "B",
				"pickup_at": time.Now().Add(time.Hour).Format(time.RFC3339)}, &r)
			for _, base := range []string{end, create} {
				if got := callVia(t, base, c.Phone, r.ProxyNumber); got != d.Phone {
					t.Errorf("%s, new ride %d: customer put through to %q, want %s", base, r.ID, got, d.Phone)
				}
				if got := callVia(t, base, d.Phone, r.ProxyNumber); got != c.Phone {
					t.Errorf("%s, new ride %d: driver put through to %q, want %s", base, r.ID, got, c.Phone)
				}
			}
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/rides/%d/end", end, r.ID), strings.NewReader(`{"status":"cancelled"}`))
			req.Header.Set("Authorization", "Bearer "+processToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("end ride %d: %v %v", r.ID, resp, err)
				return
			}
			resp.Body.Close()
			ended := time.Now()
			if got := callVia(t, end, c.Phone, r.ProxyNumber); got != "" {
				t.Errorf("ride %d ended through %s: it still put a call through to %s", r.ID, end, got)
			}
			for callVia(t, create, c.Phone, r.ProxyNumber) != "" {
				if time.Since(ended) > 5*time.Second {
					t.Errorf("ride %d ended through %s: %s still routes it after 5 s", r.ID, end, create)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	a.stop(t)
	b.stop(t)
}

// callVia asks base's voice webhook how a call from caller (E.164) to
// proxy is answered: the number it is put through to, or "".
func callVia(t *testing.T, base, caller, proxy string) string {
	q := url.Values{"source": {caller[1:]}, "destination": {proxy[1:]}, "callID": {"c"}}
	resp, err := http.Get(base + "/webhook-voice?" + q.Encode())
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return messagebird.Transferred(body)
}

// TestShutdown_SIGTERMDuringBurst stops BirdCar with SIGTERM while it takes
// a burst of SMS: it exits cleanly within the budget, and after a worker
// drains what was left, every acknowledged message is forwarded exactly once.
func TestShutdown_SIGTERMDuringBurst(t *testing.T) {
	t.Parallel()
	pool, fake, env, base := processSetup(t, 50*time.Millisecond)
	p := startProcess(t, "serve", env...)
	waitHealthy(t, base, p)
	rides := makeRides(t, base, 20)

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stopAt := make(chan struct{})
	for i, r := range rides {
		wg.Go(func() {
			for k := range 20 {
				text := fmt.Sprintf("burst %d %d", i, k)
				if sms(base, fmt.Sprintf("mb-%d-%d", i, k), r, text) {
					mu.Lock()
					acked[text] = true
					if len(acked) == 100 {
						close(stopAt)
					}
					mu.Unlock()
				}
			}
		})
	}
	<-stopAt
	took := p.stop(t)
	wg.Wait()
	t.Logf("SIGTERM after 100 acknowledged SMS: exited in %v; %d acknowledged in all", took, len(acked))

	// A worker finishes whatever the stopped process left queued.
	drain := startProcess(t, "serve --role=worker", env...)
	// exactlyOnce may pass at once, when p sent everything: drain.stop
	// must not find it still starting.
	drain.waitOutput(t, workerRunning)
	exactlyOnce(t, pool, fake)
	forwarded := map[string]int{}
	for _, a := range fake.Accepted() {
		forwarded[a.Body]++
	}
	for text := range acked {
		if forwarded[text] != 1 {
			t.Errorf("acknowledged %q forwarded %d times, want once", text, forwarded[text])
		}
	}
	drain.stop(t)
}
