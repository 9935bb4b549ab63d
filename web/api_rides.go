package web

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
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
	api.Get("/rides", s.handleAPIRideList)
	api.Get("/rides/:id", s.handleAPIRideGet)
	api.Post("/rides/:id/end", s.handleAPIRideEnd)
	api.Post("/rides/:id/extend", s.handleAPIRideExtend)
	api.Get("/rides/:id/messages", s.handleAPIRideMessages)
}

func toMessageJSON(m ride.Message) messageJSON {
	return messageJSON{m.ID, string(m.Direction), string(m.Kind), m.Originator, m.Recipient, m.Body,
		string(m.Status), m.Attempts, m.LastError, m.CreatedAt, m.UpdatedAt}
}

func toRideJSON(r ride.Ride) rideJSON {
	return rideJSON{
		ID: r.ID, Status: string(r.Status), ProxyNumber: r.ProxyNumber,
		CustomerID: r.CustomerID, CustomerName: r.CustomerName, DriverID: r.DriverID, DriverName: r.DriverName,
		Start: r.Start, Destination: r.Destination, PickupAt: r.PickupAt,
		CreatedAt: r.CreatedAt, EndedAt: r.EndedAt, ExpiresAt: r.ExpiresAt,
	}
}

// handleAPIRideCreate creates a ride; an Idempotency-Key makes a retry
// safe (see idempotency).
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
		return ride.InvalidField("pickup_at", "pickup_at must be an RFC 3339 time such as 2026-05-01T14:30:00+02:00.")
	}
	r, err := s.rules(c).CreateRide(c.UserContext(), ride.NewRide{CustomerID: in.CustomerID, DriverID: in.DriverID,
		Start: in.Start, Destination: in.Destination, PickupAt: pickup})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(toRideJSON(r))
}

// handleAPIRideList pages through rides, newest first, filtered by status,
// either party's phone (as typed), customer or driver.
func (s *Server) handleAPIRideList(c *fiber.Ctx) error {
	q := ride.RideQuery{Status: c.Query("status"), Phone: c.Query("phone")}
	var err error
	if q.Page, err = pageOf(c); err != nil {
		return err
	}
	if q.CustomerID, err = queryID(c, "customer_id"); err != nil {
		return err
	}
	if q.DriverID, err = queryID(c, "driver_id"); err != nil {
		return err
	}
	rides, next, err := s.rules(c).RidePage(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := make([]rideJSON, len(rides))
	for i, r := range rides {
		out[i] = toRideJSON(r)
	}
	return c.JSON(fiber.Map{"rides": out, "next_cursor": nextCursor(next)})
}

func (s *Server) handleAPIRideGet(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	r, err := s.rules(c).Ride(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toRideJSON(r))
}

// handleAPIRideEnd ends a ride; {"status": "cancelled"} cancels it, and an
// empty body completes it. {"disconnect": true} stops its number
// connecting the two at once instead of after the grace period, and cuts
// short the grace period of a ride already ended.
func (s *Server) handleAPIRideEnd(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	in := struct {
		Status     string `json:"status"`
		Disconnect bool   `json:"disconnect"`
	}{Status: string(ride.RideCompleted)}
	if len(c.Request().Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	end := s.rules(c).EndRide
	if in.Disconnect {
		end = s.rules(c).DisconnectRide
	}
	r, err := end(c.UserContext(), id, ride.RideStatus(in.Status))
	if err != nil {
		return err
	}
	return c.JSON(toRideJSON(r))
}

// handleAPIRideExtend lengthens an ended ride's grace period by
// {"hours": n}, as the console's extend does.
func (s *Server) handleAPIRideExtend(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	var in struct {
		Hours int `json:"hours"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	r, err := s.rules(c).ExtendGrace(c.UserContext(), id, in.Hours)
	if err != nil {
		return err
	}
	return c.JSON(toRideJSON(r))
}

// handleAPIRideMessages lists the texts and calls routed on a ride, each
// oldest first: the ride's timeline without the unrouted attempts.
func (s *Server) handleAPIRideMessages(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	ctx, rules := c.UserContext(), s.rules(c)
	r, err := rules.Ride(ctx, id)
	if err != nil {
		return err
	}
	events, err := rules.Timeline(ctx, r)
	if err != nil {
		return err
	}
	msgs, calls := []messageJSON{}, []callJSON{}
	for _, ev := range events {
		switch m, k := ev.Message, ev.Call; {
		case !ev.Routed:
		case m != nil:
			msgs = append(msgs, toMessageJSON(*m))
		case k != nil:
			calls = append(calls, callJSON{k.ID, k.CallID, k.Source, k.Destination, k.TransferredTo, string(k.Outcome), k.CreatedAt})
		}
	}
	return c.JSON(fiber.Map{"ride_id": id, "messages": msgs, "calls": calls})
}
