package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
)

// rideJSON is a ride as the API shows it.
type rideJSON struct {
	ID           int64      `json:"id"`
	Status       string     `json:"status"`
	ProxyNumber  string     `json:"proxy_number"`
	CustomerID   int64      `json:"customer_id"`
	CustomerName string     `json:"customer_name"`
	DriverID     int64      `json:"driver_id"`
	DriverName   string     `json:"driver_name"`
	Start        string     `json:"start"`
	Destination  string     `json:"destination"`
	PickupAt     time.Time  `json:"pickup_at"`
	CreatedAt    time.Time  `json:"created_at"`
	EndedAt      *time.Time `json:"ended_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// messageJSON is one SMS of a ride, in or out.
type messageJSON struct {
	ID        int64     `json:"id"`
	Direction string    `json:"direction"`
	Kind      string    `json:"kind"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Body      string    `json:"body"`
	Status    string    `json:"status"`
	Attempts  int32     `json:"attempts"`
	LastError *string   `json:"last_error"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// callJSON is one call of a ride and how it was answered.
type callJSON struct {
	ID            int64     `json:"id"`
	CallID        string    `json:"call_id"`
	From          string    `json:"from"`
	To            string    `json:"to"`
	TransferredTo *string   `json:"transferred_to"`
	Outcome       string    `json:"outcome"`
	CreatedAt     time.Time `json:"created_at"`
}

func (s *Server) registerAPIRideRoutes(api fiber.Router) {
	api.Post("/rides", s.handleAPIRideCreate)
	api.Get("/rides/:id", s.handleAPIRideGet)
	api.Post("/rides/:id/end", s.handleAPIRideEnd)
	api.Get("/rides/:id/messages", s.handleAPIRideMessages)
}

func toRideJSON(r db.RideGetRow) rideJSON {
	return rideJSON{
		ID: r.ID, Status: r.Status, ProxyNumber: r.ProxyNumber,
		CustomerID: r.CustomerID, CustomerName: r.CustomerName, DriverID: r.DriverID, DriverName: r.DriverName,
		Start: r.StartAddress, Destination: r.Destination, PickupAt: r.PickupAt,
		CreatedAt: r.CreatedAt, EndedAt: r.EndedAt, ExpiresAt: r.ExpiresAt,
	}
}

// handleAPIRideCreate creates a ride. With an Idempotency-Key header, a
// retried request gets the first request's answer instead of a second ride.
func (s *Server) handleAPIRideCreate(c *fiber.Ctx) error {
	var in struct {
		CustomerID  int64  `json:"customer_id"`
		DriverID    int64  `json:"driver_id"`
		Start       string `json:"start"`
		Destination string `json:"destination"`
		PickupAt    string `json:"pickup_at"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	pickup, err := time.Parse(time.RFC3339, in.PickupAt)
	if err != nil {
		return invalid("pickup_at", "pickup_at must be an RFC 3339 time such as 2026-05-01T14:30:00+02:00.")
	}
	key := c.Get("Idempotency-Key")
	if len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r > '~' }) {
		return invalid("idempotency_key", "The Idempotency-Key header must be at most 200 printable ASCII characters.")
	}
	ctx := c.UserContext()
	status, body := http.StatusCreated, []byte(nil)
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		if key != "" {
			// A concurrent request with the same key blocks here until the
			// first commits, then replays its answer.
			claimed, err := q.APIIdempotencyClaim(ctx, key)
			if err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			if claimed == 0 {
				stored, err := q.APIIdempotencyGet(ctx, key)
				status, body = int(stored.Status), stored.Body
				return err
			}
		}
		ride, err := s.createRide(ctx, tx, rideInput{
			CustomerID: in.CustomerID, DriverID: in.DriverID,
			Start: in.Start, Destination: in.Destination, PickupAt: pickup,
		})
		if err != nil {
			return err // rolls the key back too: a retry tries again
		}
		if body, err = json.Marshal(toRideJSON(ride)); err != nil {
			return err
		}
		if key != "" {
			return q.APIIdempotencySave(ctx, db.APIIdempotencySaveParams{Key: key, Status: int32(status), Body: body})
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(body)
}

func (s *Server) handleAPIRideGet(c *fiber.Ctx) error {
	id, err := pathID(c, errRideNotFound)
	if err != nil {
		return err
	}
	ride, err := s.queries.RideGet(c.UserContext(), id)
	if err == pgx.ErrNoRows {
		return errRideNotFound
	} else if err != nil {
		return fmt.Errorf("get ride: %w", err)
	}
	return c.JSON(toRideJSON(ride))
}

// handleAPIRideEnd ends a ride; {"status": "cancelled"} cancels it, and an
// empty body completes it.
func (s *Server) handleAPIRideEnd(c *fiber.Ctx) error {
	id, err := pathID(c, errRideNotFound)
	if err != nil {
		return err
	}
	in := struct {
		Status string `json:"status"`
	}{Status: "completed"}
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	ride, err := s.endRide(c.UserContext(), s.queries, id, in.Status)
	if err != nil {
		return err
	}
	return c.JSON(toRideJSON(ride))
}

func (s *Server) handleAPIRideMessages(c *fiber.Ctx) error {
	id, err := pathID(c, errRideNotFound)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if _, err := s.queries.RideGet(ctx, id); err == pgx.ErrNoRows {
		return errRideNotFound
	} else if err != nil {
		return fmt.Errorf("get ride: %w", err)
	}
	msgs, err := s.queries.MessageListByRide(ctx, &id)
	if err != nil {
		return fmt.Errorf("list messages: %w", err)
	}
	out := make([]messageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = messageJSON{m.ID, m.Direction, m.Kind, m.Originator, m.Recipient, m.Body, m.Status,
			m.Attempts, m.LastError, m.CreatedAt, m.UpdatedAt}
	}
	calls, err := s.queries.CallListByRide(ctx, &id)
	if err != nil {
		return fmt.Errorf("list calls: %w", err)
	}
	callsOut := make([]callJSON, len(calls))
	for i, k := range calls {
		callsOut[i] = callJSON{k.ID, k.CallID, k.Source, k.Destination, k.TransferredTo, k.Outcome, k.CreatedAt}
	}
	return c.JSON(fiber.Map{"ride_id": id, "messages": out, "calls": callsOut})
}
