package fakebird_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"birdcar/jobs/messagebird/fakebird"
)

const key = "test_key"

func start(t *testing.T, opts fakebird.Options) *fakebird.Server {
	t.Helper()
	opts.Key = key
	s, err := fakebird.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// post sends body to url as the SDK does and returns the status and decoded
// JSON answer (nil when there is none).
func post(t *testing.T, url, accessKey, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if accessKey != "" {
		req.Header.Set("Authorization", "AccessKey "+accessKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer %q is not a JSON object: %v", raw, err)
		}
	}
	return resp.StatusCode, out
}

func messageJSON(recipient, reference string) string {
	return fmt.Sprintf(`{"originator":"3197010203040","body":"Hallo 👋","recipients":[%q],`+
		`"groupIds":null,"reference":%q,"reportUrl":"https://example.test/webhook-status","datacoding":"auto","mclass":1,"shortenUrls":false}`,
		recipient, reference)
}

func TestCreate_AnswersWithMessageObject(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{})

	status, msg := post(t, s.URL+"/messages", key, messageJSON("31612345678", "ref-1"))
	if status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (%v)", status, msg)
	}
	id, _ := msg["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("id = %q, want 32 hex digits", id)
	}
	for field, want := range map[string]any{
		"href": s.URL + "/messages/" + id, "direction": "mt", "originator": "3197010203040", "body": "Hallo 👋",
		"reference": "ref-1", "reportUrl": "https://example.test/webhook-status", "datacoding": "unicode",
	} {
		if msg[field] != want {
			t.Errorf("%s = %v, want %v", field, msg[field], want)
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(msg["createdDatetime"])); err != nil {
		t.Errorf("createdDatetime: %v", err)
	}
	recipients, _ := msg["recipients"].(map[string]any)
	items, _ := recipients["items"].([]any)
	if recipients["totalCount"] != 1.0 || recipients["totalSentCount"] != 1.0 || len(items) != 1 {
		t.Fatalf("recipients = %v, want one sent", recipients)
	}
	item := items[0].(map[string]any)
	if item["recipient"] != 31612345678.0 || item["status"] != "sent" || item["statusDatetime"] == nil {
		t.Errorf("recipient item = %v", item)
	}

	got := s.Accepted()
	if len(got) != 1 || got[0].ID != id || got[0].Reference != "ref-1" || got[0].Recipients[0] != "31612345678" {
		t.Errorf("Accepted() = %+v", got)
	}
}

func TestCreate_Refusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		accessKey string
		body      string
		wantCode  int
		wantError string
	}{
		{"no key", "", messageJSON("31612345678", "r"), http.StatusUnauthorized, "Request not allowed (incorrect access_key)"},
		{"wrong key", "live_other", messageJSON("31612345678", "r"), http.StatusUnauthorized, "Request not allowed (incorrect access_key)"},
		{"rejected recipient", key, messageJSON("31600000000", "r"), http.StatusUnprocessableEntity, "no (correct) recipients found"},
		{"recipient with plus", key, messageJSON("+31612345678", "r"), http.StatusUnprocessableEntity, "no (correct) recipients found"},
		{"no body", key, `{"originator":"3197010203040","recipients":["31612345678"]}`, http.StatusUnprocessableEntity, "body is required"},
		{"not JSON", key, `originator=1&body=x`, http.StatusUnprocessableEntity, "Bad request (body is not valid JSON)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, fakebird.Options{RejectRecipients: []string{"+31600000000"}})

			status, answer := post(t, s.URL+"/messages", tt.accessKey, tt.body)
			if status != tt.wantCode {
				t.Errorf("status = %d, want %d", status, tt.wantCode)
			}
			errs, _ := answer["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["description"] != tt.wantError {
				t.Errorf("answer = %v, want one error %q", answer, tt.wantError)
			}
			if n := len(s.Accepted()); n != 0 {
				t.Errorf("accepted %d messages, want none", n)
			}
		})
	}
}

func TestFailNext_CountsDown(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{})
	s.FailNext(2)

	var statuses []int
	for range 3 {
		status, _ := post(t, s.URL+"/messages", key, messageJSON("31612345678", "r"))
		statuses = append(statuses, status)
	}
	if fmt.Sprint(statuses) != "[500 500 201]" {
		t.Errorf("statuses = %v, want [500 500 201]", statuses)
	}
	if c := s.Counts(); c != (fakebird.Counts{Accepted: 1, Failed: 2}) {
		t.Errorf("counts = %+v", c)
	}
}

func TestFailRate_SeededIsReproducible(t *testing.T) {
	t.Parallel()
	run := func() fakebird.Counts {
		s := start(t, fakebird.Options{FailRate: 0.3, Seed: 42})
		for range 100 {
			post(t, s.URL+"/messages", key, messageJSON("31612345678", "r"))
		}
		return s.Counts()
	}
	first, second := run(), run()
	if first != second {
		t.Errorf("same seed, different outcomes: %+v and %+v", first, second)
	}
	if first.Failed < 15 || first.Failed > 45 || first.Failed+first.Accepted != 100 {
		t.Errorf("counts = %+v, want about 30 of 100 failed", first)
	}
}

func TestTimeoutRate_HoldsUntilClientGivesUp(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{TimeoutRate: 1})

	client := &http.Client{Timeout: 100 * time.Millisecond}
	resp, err := client.Post(s.URL+"/messages", "application/json", bytes.NewBufferString(messageJSON("31612345678", "r")))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a client timeout", resp.StatusCode)
	}
	// The client may give up before the fake's handler has taken the
	// request off the connection and counted it: wait for the count.
	c := s.Counts()
	for deadline := time.Now().Add(10 * time.Second); c == (fakebird.Counts{}) && time.Now().Before(deadline); c = s.Counts() {
		time.Sleep(5 * time.Millisecond)
	}
	if c != (fakebird.Counts{TimedOut: 1}) {
		t.Errorf("counts = %+v", c)
	}
}

func TestLatency_DelaysAnswer(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{Latency: 150 * time.Millisecond})

	begin := time.Now()
	post(t, s.URL+"/messages", key, messageJSON("31612345678", "r"))
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least 150ms", d)
	}
}

func TestAccepted_ConcurrentRecording(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{})
	const workers, each = 20, 10

	waited := make(chan []fakebird.Accepted)
	go func() {
		got, err := s.WaitAccepted(t.Context(), workers*each)
		if err != nil {
			t.Error(err)
		}
		waited <- got
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/messages",
					bytes.NewBufferString(messageJSON("31612345678", fmt.Sprintf("w%d-%d", w, i))))
				req.Header.Set("Authorization", "AccessKey "+key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()

	got := <-waited
	ids, refs := map[string]bool{}, map[string]bool{}
	for _, a := range got {
		ids[a.ID], refs[a.Reference] = true, true
	}
	if len(got) != workers*each || len(ids) != len(got) || len(refs) != len(got) {
		t.Errorf("got %d messages, %d distinct ids, %d distinct references; want %d of each",
			len(got), len(ids), len(refs), workers*each)
	}
}

func TestWaitAccepted_EndsWithContext(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitAccepted(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestFakeEndpoints(t *testing.T) {
	t.Parallel()
	s := start(t, fakebird.Options{})
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}

	if status, _ := post(t, s.URL+"/_fake/config", "", `{"fail_rate": 2}`); status != http.StatusBadRequest {
		t.Errorf("bad config: status %d, want 400", status)
	}
	status, _ := post(t, s.URL+"/_fake/config", "", `{"fail_next": 1, "latency_ms": 0, "reject_recipients": ["+31600000000"]}`)
	if status != http.StatusNoContent {
		t.Fatalf("config: status %d, want 204", status)
	}
	for _, tc := range []struct {
		recipient string
		want      int
	}{
		{"31612345678", http.StatusInternalServerError},
		{"31600000000", http.StatusUnprocessableEntity},
		{"31612345678", http.StatusCreated},
	} {
		if status, _ := post(t, s.URL+"/messages", key, messageJSON(tc.recipient, "r")); status != tc.want {
			t.Errorf("POST /messages to %s: status %d, want %d", tc.recipient, status, tc.want)
		}
	}

	var accepted []fakebird.Accepted
	get("/_fake/accepted", &accepted)
	if len(accepted) != 1 || accepted[0].Recipients[0] != "31612345678" {
		t.Errorf("accepted = %+v, want the one message", accepted)
	}
	var counts fakebird.Counts
	get("/_fake/counts", &counts)
	if counts != (fakebird.Counts{Accepted: 1, Rejected: 1, Failed: 1}) {
		t.Errorf("counts = %+v", counts)
	}

	if status, _ := post(t, s.URL+"/_fake/reset", "", ""); status != http.StatusNoContent {
		t.Errorf("reset: status %d, want 204", status)
	}
	get("/_fake/accepted", &accepted)
	get("/_fake/counts", &counts)
	if len(accepted) != 0 || counts != (fakebird.Counts{}) {
		t.Errorf("after reset: %d accepted, counts %+v; want none", len(accepted), counts)
	}
}

func TestStart_RejectsRateOutsideZeroToOne(t *testing.T) {
	t.Parallel()
	if s, err := fakebird.Start(fakebird.Options{TimeoutRate: 1.5}); err == nil {
		s.Close()
		t.Error("Start accepted a timeout rate of 1.5")
	}
}
