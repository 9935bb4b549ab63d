package web

import (
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/ride"
)

func (s *Server) registerSendRoutes() {
	s.app.Get("/sends", s.handleSends)
	s.app.Post("/sends/retry-failed", s.handleSendRetryAll)
	s.app.Post("/sends/:id/retry", s.handleSendRetry)
	s.app.Post("/sends/:id/cancel", s.handleSendCancel)
	s.app.Post("/events/:id/retry", s.handleEventRetry)
}

// handleSends is the sends page, or for htmx (its live refresh) the list;
// ?status=retrying|failed filters it.
func (s *Server) handleSends(c *fiber.Ctx) error {
	props, err := s.sendsProps(c, "")
	if err != nil {
		return err
	}
	if isHTMX(c) {
		return render(c, http.StatusOK, components.SendsTable(props))
	}
	events, err := s.Rides.TroubledEvents(c.UserContext())
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Sends", "sends"),
		components.Sends(props, components.EventsProps{Events: events}))
}

// sendsProps is the list as the query's filter shows it, with note.
func (s *Server) sendsProps(c *fiber.Ctx, note string) (components.SendsProps, error) {
	filter := ride.SendFilter(c.Query("status"))
	switch filter {
	case "", ride.SendRetrying, ride.SendFailed:
	default:
		return components.SendsProps{}, ride.Errorf(ride.CodeMalformed, "status must be retrying or failed.")
	}
	sends, err := s.Rides.TroubledSends(c.UserContext())
	if err != nil {
		return components.SendsProps{}, err
	}
	p := components.SendsProps{Filter: filter, Message: note}
	for _, send := range sends {
		if send.Requeueable() {
			p.RetryableFailed++
		}
		if filter.Match(send) {
			p.Sends = append(p.Sends, send)
		}
	}
	return p, nil
}

// handleSendRetryAll queues every failed send again that retrying may help.
func (s *Server) handleSendRetryAll(c *fiber.Ctx) error {
	n, err := s.Rides.RetryAllFailed(c.UserContext())
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/sends", http.StatusSeeOther)
	}
	props, err := s.sendsProps(c, fmt.Sprintf("%d failed %s queued again.", n, plural(n, "message is", "messages are")))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.SendsTable(props))
}

// handleEventRetry offers a failed event to the platform again now.
func (s *Server) handleEventRetry(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrEventNotFound)
	if err != nil {
		return err
	}
	if err := s.Rides.RetryEvent(c.UserContext(), id); err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/sends", http.StatusSeeOther)
	}
	events, err := s.Rides.TroubledEvents(c.UserContext())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.EventsTable(components.EventsProps{Events: events, Message: "The event will be offered again now."}))
}

// handleSendRetry makes River try a waiting send now, or queues a failed
// one again with a new job.
func (s *Server) handleSendRetry(c *fiber.Ctx) error {
	return s.sendAction(c, func(id int64) (string, error) {
		how, err := s.Rides.RetrySend(c.UserContext(), id)
		if how == ride.RetriedNow {
			return fmt.Sprintf("Message %d will be tried again now.", id), err
		}
		return fmt.Sprintf("Message %d is queued again.", id), err
	})
}

// handleSendCancel stops retrying a send and marks it failed.
func (s *Server) handleSendCancel(c *fiber.Ctx) error {
	return s.sendAction(c, func(id int64) (string, error) {
		return fmt.Sprintf("Message %d will not be sent.", id), s.Rides.CancelSend(c.UserContext(), id)
	})
}

// sendAction applies act to the message the route names and re-renders
// the list with act's note.
func (s *Server) sendAction(c *fiber.Ctx, act func(id int64) (string, error)) error {
	id, err := pathID(c, ride.ErrMessageNotFound)
	if err != nil {
		return err
	}
	note, err := act(id)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/sends", http.StatusSeeOther)
	}
	props, err := s.sendsProps(c, note)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.SendsTable(props))
}
