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
			got := time.Until(retryPolicy{}.NextRetry(job))
			if got < want*89/100 || got > want*111/100 {
				t.Fatalf("after %d failures: next try in %v, want %v ± 10 %%", failures+1, got, want)
			}
		}
	}
}
