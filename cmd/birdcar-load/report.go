package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

// report is the result of a run, printed as a table or, with -json, as
// JSON for BENCHMARKS.md and tests.
type report struct {
	RunID       string        `json:"run_id"`
	Target      string        `json:"target"`
	Mode        string        `json:"mode"`
	Interrupted bool          `json:"interrupted"`
	Rides       int           `json:"rides"`
	Phases      []phaseReport `json:"phases"`
	SMS         *smsReport    `json:"sms"` // null without -fake or an sms phase
}

// phaseReport is what one phase's requests met.
type phaseReport struct {
	Name            string         `json:"name"` // setup, voice or sms
	Requests        int            `json:"requests"`
	OK              int            `json:"ok"` // 2xx with the expected answer
	DurationMS      float64        `json:"duration_ms"`
	RequestsPerS    float64        `json:"requests_per_s"`
	Latency         latencyReport  `json:"latency_ms"`
	Non2xx          map[string]int `json:"non_2xx"`
	TransportErrors map[string]int `json:"transport_errors"`
	Invalid         map[string]int `json:"invalid"`
	Dropped         int            `json:"dropped"` // sms sends skipped with maxInFlight reached
}

// smsReport accounts for the SMS phase end to end, from the fake
// MessageBird's accepted list.
type smsReport struct {
	Acknowledged            int     `json:"acknowledged"`
	ForwardedOnce           int     `json:"forwarded_once"`
	Lost                    int     `json:"lost"`       // acknowledged, never forwarded
	Duplicated              int     `json:"duplicated"` // acknowledged, forwarded more than once
	Misrouted               int     `json:"misrouted"`  // forwards not from the proxy to the other party
	ForwardedUnacknowledged int     `json:"forwarded_unacknowledged"`
	DrainMS                 float64 `json:"drain_ms"`
	// ForwardLatency is null when nothing was forwarded or the timestamps
	// are whole seconds.
	ForwardLatency *latencyReport `json:"forward_latency_ms"`
	// WholeSecondTimestamps is set when the fake's received_at carried no
	// fraction of a second, too coarse to measure forward latency.
	WholeSecondTimestamps bool `json:"whole_second_timestamps"`
}

// exactErr fails a run in which an acknowledged SMS was not forwarded
// exactly once to the right party.
func (s *smsReport) exactErr() error {
	if s == nil {
		return fmt.Errorf("-require-exact: no SMS was accounted for")
	}
	if s.Lost+s.Duplicated+s.Misrouted > 0 {
		return fmt.Errorf("SMS not forwarded exactly once: %d lost, %d duplicated, %d misrouted of %d acknowledged",
			s.Lost, s.Duplicated, s.Misrouted, s.Acknowledged)
	}
	return nil
}

func (r *report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "run %s against %s, mode %s, %d rides", r.RunID, r.Target, r.Mode, r.Rides)
	if r.Interrupted {
		buf.WriteString(" (interrupted)")
	}
	buf.WriteString("\n\n")

	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\tok\tduration\treq/s\tp50\tp95\tp99\tmax\tnon-2xx\ttransport\tinvalid\tdropped\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2fs\t%.1f\t%s\t%d\t%d\t%d\t%d\t\n",
			p.Name, p.Requests, p.OK, p.DurationMS/1000, p.RequestsPerS, latencyCells(p.Latency),
			sum(p.Non2xx), sum(p.TransportErrors), sum(p.Invalid), p.Dropped)
	}
	tw.Flush()

	var faults bytes.Buffer
	tw = tabwriter.NewWriter(&faults, 0, 0, 2, ' ', 0)
	for _, p := range r.Phases {
		for _, kind := range []struct {
			name   string
			counts map[string]int
		}{{"non-2xx", p.Non2xx}, {"transport", p.TransportErrors}, {"invalid", p.Invalid}} {
			for _, k := range slices.Sorted(maps.Keys(kind.counts)) {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", p.Name, kind.name, k, kind.counts[k])
			}
		}
	}
	tw.Flush()
	if faults.Len() > 0 {
		buf.WriteString("\nfaults\n")
		buf.Write(faults.Bytes())
	}

	if s := r.SMS; s != nil {
		fmt.Fprintf(&buf, "\nsms end to end (drained in %.2fs)\n", s.DrainMS/1000)
		tw = tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		for _, row := range []struct {
			name string
			n    int
		}{
			{"acknowledged", s.Acknowledged},
			{"forwarded exactly once", s.ForwardedOnce},
			{"lost", s.Lost},
			{"duplicated", s.Duplicated},
			{"misrouted", s.Misrouted},
			{"forwarded, not acknowledged", s.ForwardedUnacknowledged},
		} {
			fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
		}
		switch l := s.ForwardLatency; {
		case l != nil:
			fmt.Fprintf(tw, "  forward latency\tp50 %.1fms  p95 %.1fms  p99 %.1fms  max %.1fms  (n=%d)\n", l.P50, l.P95, l.P99, l.Max, l.N)
		case s.WholeSecondTimestamps:
			fmt.Fprintln(tw, "  forward latency\tnot measured: the fake's timestamps are whole seconds")
		}
		tw.Flush()
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func latencyCells(l latencyReport) string {
	return fmt.Sprintf("%.2fms\t%.2fms\t%.2fms\t%.2fms", l.P50, l.P95, l.P99, l.Max)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
