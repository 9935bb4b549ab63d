package web

import (
	"bufio"
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

// The console's live pages (the overview, the sends, a ride's timeline)
// hold one Server-Sent Events stream each: an event named "change" says
// something they show changed, and htmx's SSE extension makes the panel
// read itself again (hx-trigger="sse:change"). The stream carries no data
// of its own beyond the kind of change and the ride's id.

// streamGather is how long a stream waits after a change for more, so a
// burst (a batch of calls, a ride and its two notifications) is one event.
const streamGather = 150 * time.Millisecond

// streamMinInterval spaces a stream's events, so that a busy service
// does not have every open page read itself many times a second; what
// changes meanwhile goes in the next event.
const streamMinInterval = time.Second

// streamWriteTimeout bounds each write: the server's WriteTimeout is set
// once per response, and a stream lives longer than that.
const streamWriteTimeout = 30 * time.Second

func (s *Server) registerLiveRoutes() {
	s.app.Get("/events/stream", s.handleStream)
}

// streamFilter is what a stream is about: one ride (0: all) and some kinds
// of change (none: all).
type streamFilter struct {
	ride  int64
	kinds []string
}

func (f streamFilter) match(c ride.Change) bool {
	if c.Kind == ride.ChangeAll {
		return true
	}
	if f.ride != 0 && c.RideID != f.ride {
		return false
	}
	if len(f.kinds) == 0 {
		return true
	}
	for _, k := range f.kinds {
		if k == c.Kind {
			return true
		}
	}
	return false
}

func parseStreamFilter(c *fiber.Ctx) (streamFilter, error) {
	var f streamFilter
	if v := c.Query("ride"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return f, ride.Errorf(ride.CodeMalformed, "ride must be a ride's id.")
		}
		f.ride = id
	}
	if v := c.Query("kinds"); v != "" {
		f.kinds = strings.Split(v, ",")
	}
	return f, nil
}

// handleStream is a page's event stream. It ends when the client goes
// away (the next write fails: at most a heartbeat later), and at once
// when the server shuts down.
func (s *Server) handleStream(c *fiber.Ctx) error {
	if s.Feed == nil {
		return errNotFound
	}
	filter, err := parseStreamFilter(c)
	if err != nil {
		return err
	}
	select {
	case <-s.closing:
		return ride.Errorf(ride.CodeBusy, "BirdCar is shutting down: the page reconnects to it, or to another process.")
	default:
	}
	// The stream outlives the request's checks: it looks at the session
	// again with each heartbeat, and one operator holds a few streams at
	// most, so no one can take every slot of the feed.
	sess := sessionOf(c)
	token := strings.Clone(c.Cookies(sessionCookie))
	if !s.takeStream(sess.OperatorID) {
		return errTooManyStreams
	}
	sub, err := s.Feed.Subscribe()
	if err != nil {
		s.releaseStream(sess.OperatorID)
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	conn := c.Context().Conn()
	ctx, closing := s.base, s.closing
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.releaseStream(sess.OperatorID)
		defer sub.Close()
		write := func(text string) bool {
			_ = conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := w.WriteString(text); err != nil {
				return false
			}
			return w.Flush() == nil
		}
		// A browser reconnects 2 s after the stream ends.
		if !write("retry: 2000\n: live\n\n") {
			return
		}
		heartbeat := time.NewTicker(cmp.Or(s.StreamHeartbeat, defaultStreamHeartbeat))
		defer heartbeat.Stop()
		var last time.Time // when the last event went
		for id := 1; ; {
			select {
			case <-ctx.Done():
				return
			case <-closing:
				return
			case <-heartbeat.C:
				// Signed out, disabled or expired: the stream ends, and the
				// page's reconnection meets the login.
				if _, ok, err := s.Admin.Session(ctx, token); err == nil && !ok {
					return
				}
				if !write(": ping\n\n") {
					return
				}
				continue
			case <-sub.Ready():
			}
			gather := time.NewTimer(max(streamGather, time.Until(last.Add(streamMinInterval))))
			select {
			case <-ctx.Done():
				gather.Stop()
				return
			case <-closing:
				gather.Stop()
				return
			case <-gather.C:
			}
			// One event per gathering, the page reads itself once; its
			// data names the distinct changes, "*" among them when the
			// feed may have missed some.
			var data []string
			seen := map[ride.Change]bool{}
			for _, ch := range sub.Take() {
				if filter.match(ch) && !seen[ch] {
					seen[ch] = true
					data = append(data, ch.Kind+":"+strconv.FormatInt(ch.RideID, 10))
				}
			}
			if len(data) == 0 {
				continue
			}
			if !write(fmt.Sprintf("id: %d\nevent: change\ndata: %s\n\n", id, strings.Join(data, " "))) {
				return
			}
			id, last = id+1, time.Now()
		}
	})
	return nil
}

// defaultStreamHeartbeat is Server.StreamHeartbeat's default.
const defaultStreamHeartbeat = 15 * time.Second

// maxStreamsPerOperator is how many live pages one operator keeps open
// at once: tabs enough, and far below the feed's own bound.
const maxStreamsPerOperator = 16

var errTooManyStreams = ride.Errorf(ride.CodeBusy, "You have too many live pages open. Close some BirdCar tabs and reload this one.")

// takeStream counts a stream of operator's, if they may open another.
func (s *Server) takeStream(operator int64) bool {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.streams == nil {
		s.streams = map[int64]int{}
	}
	if s.streams[operator] >= maxStreamsPerOperator {
		return false
	}
	s.streams[operator]++
	return true
}

func (s *Server) releaseStream(operator int64) {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.streams[operator]--; s.streams[operator] <= 0 {
		delete(s.streams, operator)
	}
}

// stopStreams ends every open event stream, so that Shutdown need not
// wait for them: browsers reconnect to another process, or to this one
// when it is back.
func (s *Server) stopStreams() {
	s.closeStreams.Do(func() { close(s.closing) })
}
