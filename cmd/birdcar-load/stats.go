package main

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// recorder collects the outcomes of one phase's requests. Safe for
// concurrent use.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration // of every answered request
	requests  int
	ok        int
	non2xx    map[string]int // by status, with the problem code when there is one
	transport map[string]int // by errKind
	invalid   map[string]int // 2xx answers that were wrong, by fault
}

// newRecorder returns a recorder with room for capacity samples, so that
// recording does not allocate in the hot loop.
func newRecorder(capacity int) *recorder {
	return &recorder{
		latencies: make([]time.Duration, 0, capacity),
		non2xx:    map[string]int{},
		transport: map[string]int{},
		invalid:   map[string]int{},
	}
}

// record notes an answer that took d. For a 2xx answer fault says why it
// was still wrong ("" when right); for any other it is the problem code,
// if known.
func (r *recorder) record(d time.Duration, status int, fault string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.latencies = append(r.latencies, d)
	switch {
	case status/100 != 2:
		key := strconv.Itoa(status)
		if fault != "" {
			key += " " + fault
		}
		r.non2xx[key]++
	case fault != "":
		r.invalid[fault]++
	default:
		r.ok++
	}
}

// fail notes a request that got no (complete) answer.
func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.transport[errKind(err)]++
}

// report summarises the phase; call it once all requests are done.
func (r *recorder) report(name string, elapsed time.Duration, dropped int) phaseReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := phaseReport{
		Name:            name,
		Requests:        r.requests,
		OK:              r.ok,
		DurationMS:      ms(elapsed),
		Latency:         summarize(r.latencies),
		Non2xx:          r.non2xx,
		TransportErrors: r.transport,
		Invalid:         r.invalid,
		Dropped:         dropped,
	}
	if elapsed > 0 {
		p.RequestsPerS = float64(r.requests) / elapsed.Seconds()
	}
	return p
}

// errKind names a transport failure for the report.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errNotLoopback):
		return "not_loopback"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port" // ephemeral ports exhausted by connection churn
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "other"
}

// latencyReport summarises latency samples, in milliseconds.
type latencyReport struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// summarize sorts samples in place and reads the percentiles off them.
func summarize(samples []time.Duration) latencyReport {
	slices.Sort(samples)
	return latencyReport{
		N:   len(samples),
		P50: ms(percentile(samples, 50)),
		P95: ms(percentile(samples, 95)),
		P99: ms(percentile(samples, 99)),
		Max: ms(percentile(samples, 100)),
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted samples
// by the nearest-rank method: a value that was really measured. It is 0
// when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
