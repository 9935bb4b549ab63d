package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

func TestRetryPolicy_DoublesUpTo30s(t *testing.T) {
	t.Parallel()
	for failures, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30} {
		want *= time.Second
		job := &rivertype.JobRow{Errors: make([]rivertype.AttemptError, failures)}
		for range 20 {
			// Measured from both sides of the call, so a stalled goroutine
			// cannot push a correct answer out of the ±10 % jitter.
			before := time.Now()
			next := retryPolicy{}.NextRetry(job)
			after := time.Now()
			if next.Sub(before) < want*9/10 || next.Sub(after) > want*11/10 {
				t.Fatalf("after %d failures: next try %v after the call, want %v ± 10 %%", failures+1, next.Sub(before), want)
			}
		}
	}
}
