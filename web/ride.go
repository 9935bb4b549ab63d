package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"birdcar/jobs"
	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// assignAttempts bounds how often a creation that lost a race for a number
// tries another one.
const assignAttempts = 20

var errPoolExhausted = &Error{Status: http.StatusConflict, Code: "pool_exhausted",
	Message: "No proxy number is free for this customer and driver — add numbers to the pool."}

// rideInput is a ride request once its fields are parsed.
type rideInput struct {
	CustomerID  int64
	DriverID    int64
	Start       string
	Destination string
	PickupAt    time.Time
}

// validateAddress checks a start or destination, naming the field.
func validateAddress(field, label, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", invalid(field, label+" is required.")
	case utf8.RuneCountInString(v) > 200:
		return "", invalid(field, label+" must be at most 200 characters.")
	case !plainText(v):
		return "", invalid(field, label+" must be plain text, without control characters.")
	}
	return v, nil
}

// createRide assigns a proxy number and writes the ride, its routes and its
// two notifications, enqueueing their sends, all in tx.
func (s *Server) createRide(ctx context.Context, tx pgx.Tx, in rideInput) (db.RideGetRow, error) {
	var err error
	if in.Start, err = validateAddress("start", "Start", in.Start); err != nil {
		return db.RideGetRow{}, err
	}
	if in.Destination, err = validateAddress("destination", "Destination", in.Destination); err != nil {
		return db.RideGetRow{}, err
	}
	q := db.New(tx)
	customer, err := q.CustomerGet(ctx, in.CustomerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.RideGetRow{}, invalid("customer_id", "There is no customer with this id.")
	} else if err != nil {
		return db.RideGetRow{}, fmt.Errorf("get customer: %w", err)
	}
	driver, err := q.DriverGet(ctx, in.DriverID)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.RideGetRow{}, invalid("driver_id", "There is no driver with this id.")
	} else if err != nil {
		return db.RideGetRow{}, fmt.Errorf("get driver: %w", err)
	}
	if customer.Phone == driver.Phone {
		return db.RideGetRow{}, invalid("driver_id", "The customer and the driver have the same phone number; a masked number cannot connect a phone to itself.")
	}

	now := s.now()
	ride, err := s.assignNumber(ctx, tx, in, customer, driver, now)
	if err != nil {
		return db.RideGetRow{}, err
	}
	row, err := q.RideGet(ctx, ride.ID)
	if err != nil {
		return db.RideGetRow{}, fmt.Errorf("reload ride: %w", err)
	}
	pickup := s.formatPickup(in.PickupAt)
	notes := []db.MessageCreateOutboundParams{
		{RideID: &ride.ID, Kind: "notification", Originator: row.ProxyNumber, Recipient: customer.Phone,
			Body: fmt.Sprintf("%s will pick you up at %s. Reply to this message or call this number to contact the driver.", driver.Name, pickup)},
		{RideID: &ride.ID, Kind: "notification", Originator: row.ProxyNumber, Recipient: driver.Phone,
			Body: fmt.Sprintf("You will pick up %s at %s from %s. Reply to this message or call this number to contact the customer.", customer.Name, pickup, in.Start)},
	}
	if err := s.queueMessages(ctx, tx, notes...); err != nil {
		return db.RideGetRow{}, err
	}
	return row, nil
}

// queueMessages writes outbound messages and enqueues their sends in tx, so
// a message exists exactly when its job does.
func (s *Server) queueMessages(ctx context.Context, tx pgx.Tx, msgs ...db.MessageCreateOutboundParams) error {
	q := db.New(tx)
	params := make([]river.InsertManyParams, 0, len(msgs))
	for _, m := range msgs {
		msg, err := q.MessageCreateOutbound(ctx, m)
		if err != nil {
			return fmt.Errorf("write %s message: %w", m.Kind, err)
		}
		params = append(params, river.InsertManyParams{Args: jobs.SendArgs{MessageID: msg.ID}})
	}
	if _, err := s.Jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue sends: %w", err)
	}
	return nil
}

// assignNumber picks a free number and inserts the ride and its routes. The
// routing constraint has the last word: a creation that loses a race to a
// concurrent one rolls back to its savepoint and tries another number.
func (s *Server) assignNumber(ctx context.Context, tx pgx.Tx, in rideInput, customer db.Customer, driver db.Driver, now time.Time) (db.Ride, error) {
	country := phone.Region(customer.Phone)
	if country == "" {
		country = s.DefaultCountry
	}
	for range assignAttempts {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return db.Ride{}, fmt.Errorf("savepoint: %w", err)
		}
		ride, err := insertRide(ctx, db.New(sp), in, customer, driver, country, now)
		if err == nil {
			return ride, sp.Commit(ctx)
		}
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return db.Ride{}, fmt.Errorf("roll back savepoint: %w", rbErr)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.ConstraintName != "routes_one_valid" {
			return db.Ride{}, err
		}
	}
	return db.Ride{}, &Error{Status: http.StatusServiceUnavailable, Code: "busy",
		Message: "Too many rides are being created for these people at once. Please try again."}
}

func insertRide(ctx context.Context, q *db.Queries, in rideInput, customer db.Customer, driver db.Driver, country string, now time.Time) (db.Ride, error) {
	num, err := q.ProxyNumberPickInCountry(ctx, db.ProxyNumberPickInCountryParams{
		Country: country, CustomerPhone: customer.Phone, DriverPhone: driver.Phone, Now: now})
	if errors.Is(err, pgx.ErrNoRows) {
		num, err = q.ProxyNumberPickAny(ctx, db.ProxyNumberPickAnyParams{
			CustomerPhone: customer.Phone, DriverPhone: driver.Phone, Now: now})
	}
	if errors.Is(err, pgx.ErrNoRows) {
		num, err = q.ProxyNumberPickWaiting(ctx, db.ProxyNumberPickWaitingParams{
			Country: country, CustomerPhone: customer.Phone, DriverPhone: driver.Phone, Now: now})
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Ride{}, errPoolExhausted
	}
	if err != nil {
		return db.Ride{}, fmt.Errorf("pick a number: %w", err)
	}
	ride, err := q.RideCreate(ctx, db.RideCreateParams{
		CustomerID: customer.ID, DriverID: driver.ID, ProxyNumberID: num.ID,
		StartAddress: in.Start, Destination: in.Destination, PickupAt: in.PickupAt, CreatedAt: now,
	})
	if err != nil {
		return db.Ride{}, fmt.Errorf("insert ride: %w", err)
	}
	for _, r := range []db.RouteCreateParams{
		{RideID: ride.ID, ProxyNumberID: num.ID, CallerPhone: customer.Phone, CalleePhone: driver.Phone, ValidFrom: now},
		{RideID: ride.ID, ProxyNumberID: num.ID, CallerPhone: driver.Phone, CalleePhone: customer.Phone, ValidFrom: now},
	} {
		if err := q.RouteCreate(ctx, r); err != nil {
			return db.Ride{}, err // the caller looks for the routing constraint
		}
	}
	if err := q.ProxyNumberMarkAssigned(ctx, db.ProxyNumberMarkAssignedParams{ID: num.ID, LastAssignedAt: &now}); err != nil {
		return db.Ride{}, fmt.Errorf("mark number assigned: %w", err)
	}
	return ride, nil
}

// endRide completes or cancels an active ride; its number keeps routing
// for the grace period.
func (s *Server) endRide(ctx context.Context, q *db.Queries, id int64, status string) (db.RideGetRow, error) {
	if status != "completed" && status != "cancelled" {
		return db.RideGetRow{}, invalid("status", `Status must be "completed" or "cancelled".`)
	}
	now := s.now()
	_, err := q.RideEnd(ctx, db.RideEndParams{ID: id, Status: status, Now: now, ExpiresAt: now.Add(s.GracePeriod)})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return db.RideGetRow{}, fmt.Errorf("end ride: %w", err)
	}
	row, err := q.RideGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.RideGetRow{}, errRideNotFound
	}
	return row, err
}

var errRideNotFound = &Error{Status: http.StatusNotFound, Code: "ride_not_found", Message: "There is no ride with this id."}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// formatPickup writes a pickup time the way a text message reads it.
func (s *Server) formatPickup(t time.Time) string {
	return t.In(s.location()).Format("15:04 on Mon 2 Jan")
}

func (s *Server) location() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.Local
}
