package jobs

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// retryMax is the longest wait between two attempts of a job.
const retryMax = 30 * time.Second

// retryPolicy spaces a job's attempts 1 s, 2 s, 4 s … up to 30 s apart,
// each ±10 %. River's default (attempt⁴ s: 16 s, 81 s, 256 s …) holds a
// forward back for minutes after a few transient failures, when rider and
// driver need it in seconds. A long MessageBird outage is ridden out by the
// number of attempts (SEND_MAX_ATTEMPTS × 30 s), not by ever longer waits.
type retryPolicy struct{}

// NextRetry implements river.ClientRetryPolicy.
func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	failures := len(job.Errors) + 1 // this one included, as River counts
	d := min(time.Second<<min(failures-1, 5), retryMax)
	jitter := time.Duration(rand.Int64N(int64(d/5))) - d/10
	return time.Now().Add(d + jitter)
}
