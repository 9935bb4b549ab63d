package ride

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// RideStatus is where a ride is in its life.
type RideStatus string

// A ride is active until it is completed or cancelled; its number keeps
// connecting the parties for the grace period after that.
const (
	RideActive    RideStatus = "active"
	RideCompleted RideStatus = "completed"
	RideCancelled RideStatus = "cancelled"
)

// Ride is a trip of one customer with one driver, connected through a
// proxy number.
type Ride struct {
	ID                  int64
	Status              RideStatus
	ProxyNumber         string // E.164
	CustomerID          int64
	CustomerName        string
	CustomerPhone       string
	DriverID            int64
	DriverName          string
	DriverPhone         string
	Start, Destination  string
	PickupAt, CreatedAt time.Time
	EndedAt             *time.Time
	ExpiresAt           *time.Time // when the number stops connecting them: nil while active
}

// InGrace reports whether the ride has ended but its number still
// connects its parties at now.
func (r Ride) InGrace(now time.Time) bool {
	return r.Status != RideActive && r.ExpiresAt != nil && r.ExpiresAt.After(now)
}

// NewRide is a ride to create.
type NewRide struct {
	CustomerID, DriverID int64
	Start, Destination   string
	PickupAt             time.Time
}

// assignAttempts bounds how often a creation that lost a race for a number
// tries another one.
const assignAttempts = 20

// PickupTolerance is how far in the past a new ride's pickup may be: the
// car may already be at the door when the ride is entered, but a pickup
// in 2020 is a typo.
const PickupTolerance = 15 * time.Minute

// forwardLimit is the longest text a forward carries intact.
const forwardLimit = 1600

// CreateRide assigns a proxy number and writes the ride, its two routes
// and the notifications to both parties, their sends enqueued, in one
// transaction.
func (s *Service) CreateRide(ctx context.Context, in NewRide) (Ride, error) {
	var r Ride
	err := s.inTx(ctx, func(tx pgx.Tx, _ *db.Queries) (err error) {
		r, err = s.createRide(ctx, tx, in)
		return err
	})
	return r, err
}

// Check trims the ride's texts and checks every field that needs no
// database, reporting all that are wrong at once (see Error.More): a form
// that found faults of its own still shows these with them.
func (in *NewRide) Check() error {
	var startErr, destErr error
	in.Start, startErr = checkText("start", "Start", in.Start)
	in.Destination, destErr = checkText("destination", "Destination", in.Destination)
	return JoinFields(startErr, destErr)
}

func (s *Service) createRide(ctx context.Context, tx pgx.Tx, in NewRide) (Ride, error) {
	textErr := in.Check()
	q := db.New(tx)
	var customerErr, driverErr error
	customer, err := s.person(ctx, q, RoleCustomer, in.CustomerID)
	if errors.Is(err, ErrPersonNotFound) {
		customerErr = InvalidField("customer_id", "There is no customer with this id.")
	} else if err != nil {
		return Ride{}, err
	} else if customer.Erased() {
		customerErr = InvalidField("customer_id", "This person was erased: BirdCar no longer has their phone number.")
	}
	driver, err := s.person(ctx, q, RoleDriver, in.DriverID)
	if errors.Is(err, ErrPersonNotFound) {
		driverErr = InvalidField("driver_id", "There is no driver with this id.")
	} else if err != nil {
		return Ride{}, err
	} else if driver.Erased() {
		driverErr = InvalidField("driver_id", "This person was erased: BirdCar no longer has their phone number.")
	}
	if customerErr == nil && driverErr == nil && customer.Phone == driver.Phone {
		driverErr = InvalidField("driver_id", "The customer and the driver have the same phone number; a masked number cannot connect a phone to itself.")
	}
	if err := JoinFields(customerErr, driverErr, textErr); err != nil {
		return Ride{}, err
	}
	now := s.Now()
	if in.PickupAt.Before(now.Add(-PickupTolerance)) {
		return Ride{}, InvalidField("pickup_at", "The pickup time is in the past: choose a time from now on.")
	}

	id, err := s.assignNumber(ctx, tx, in, customer, driver, now)
	if err != nil {
		return Ride{}, err
	}
	// The ride's foreign keys now lock both people until commit, having
	// waited for an erasure or an edit that locked them first: look again,
	// so the routes never carry a phone that is gone. (An erasure that
	// comes after waits for this ride, and refuses while it routes.)
	phones, err := q.RidePartyPhones(ctx, db.RidePartyPhonesParams{CustomerID: customer.ID, DriverID: driver.ID})
	switch {
	case err != nil:
		return Ride{}, fmt.Errorf("read parties again: %w", err)
	case phones.CustomerPhone != customer.Phone:
		return Ride{}, InvalidField("customer_id", "This customer was erased or given another phone just now: try again.")
	case phones.DriverPhone != driver.Phone:
		return Ride{}, InvalidField("driver_id", "This driver was erased or given another phone just now: try again.")
	}
	r, err := s.ride(ctx, q, id)
	if err != nil {
		return Ride{}, fmt.Errorf("reload ride: %w", err)
	}
	pickup := r.PickupAt.In(s.Location()).Format("15:04 on Mon 2 Jan")
	err = s.queueMessages(ctx, tx,
		db.MessageCreateOutboundParams{RideID: &r.ID, Kind: string(KindNotification), Originator: r.ProxyNumber, Recipient: customer.Phone,
			Body: fmt.Sprintf("%s will pick you up at %s. Reply to this message or call this number to contact the driver.", driver.Name, pickup)},
		db.MessageCreateOutboundParams{RideID: &r.ID, Kind: string(KindNotification), Originator: r.ProxyNumber, Recipient: driver.Phone,
			Body: fmt.Sprintf("You will pick up %s at %s from %s. Reply to this message or call this number to contact the customer.", customer.Name, pickup, in.Start)},
	)
	if err == nil {
		err = s.emit(ctx, tx, EventRideCreated, rideEventOf(r))
	}
	if err == nil {
		err = s.emitPoolLow(ctx, tx, now)
	}
	if err == nil {
		err = s.audit(ctx, q, AuditEntry{Action: AuditRideCreate, RideID: &r.ID, Number: r.ProxyNumber,
			Detail: fmt.Sprintf("customer #%d, driver #%d", customer.ID, driver.ID)})
	}
	return r, err
}

// assignNumber picks a free number and inserts the ride and its routes,
// returning the ride's id. The routing constraint has the last word: a
// creation that loses a race to a concurrent one rolls back to its
// savepoint and tries another number.
func (s *Service) assignNumber(ctx context.Context, tx pgx.Tx, in NewRide, customer, driver Person, now time.Time) (int64, error) {
	country := phone.Region(customer.Phone)
	if country == "" {
		country = s.DefaultCountry
	}
	for range assignAttempts {
		var id int64
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) (err error) {
			id, err = insertRide(ctx, db.New(sp), in, customer, driver, country, now)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.ConstraintName != "routes_one_valid" {
			return id, err
		}
	}
	return 0, Errorf(CodeBusy, "Too many rides are being created for these people at once. Please try again.")
}

func insertRide(ctx context.Context, q *db.Queries, in NewRide, customer, driver Person, country string, now time.Time) (int64, error) {
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
		return 0, ErrPoolExhausted
	}
	if err != nil {
		return 0, fmt.Errorf("pick a number: %w", err)
	}
	ride, err := q.RideCreate(ctx, db.RideCreateParams{
		CustomerID: customer.ID, DriverID: driver.ID, ProxyNumberID: num.ID,
		StartAddress: in.Start, Destination: in.Destination, PickupAt: in.PickupAt, CreatedAt: now,
	})
	if err != nil {
		return 0, fmt.Errorf("insert ride: %w", err)
	}
	for _, r := range []db.RouteCreateParams{
		{RideID: ride.ID, ProxyNumberID: num.ID, CallerPhone: customer.Phone, CalleePhone: driver.Phone, ValidFrom: now},
		{RideID: ride.ID, ProxyNumberID: num.ID, CallerPhone: driver.Phone, CalleePhone: customer.Phone, ValidFrom: now},
	} {
		if err := q.RouteCreate(ctx, r); err != nil {
			return 0, err // the caller looks for the routing constraint
		}
	}
	if err := q.ProxyNumberMarkAssigned(ctx, db.ProxyNumberMarkAssignedParams{ID: num.ID, LastAssignedAt: &now}); err != nil {
		return 0, fmt.Errorf("mark number assigned: %w", err)
	}
	return ride.ID, nil
}

// Ride returns one ride with its parties and number.
func (s *Service) Ride(ctx context.Context, id int64) (Ride, error) {
	return s.ride(ctx, s.queries(), id)
}

func (s *Service) ride(ctx context.Context, q *db.Queries, id int64) (Ride, error) {
	row, err := q.RideGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ride{}, ErrRideNotFound
	} else if err != nil {
		return Ride{}, fmt.Errorf("get ride: %w", err)
	}
	return toRide(row), nil
}

// EndRide completes or cancels an active ride; its number keeps routing
// for the grace period. Ending an ended ride changes nothing.
func (s *Service) EndRide(ctx context.Context, id int64, status RideStatus) (Ride, error) {
	return s.endRide(ctx, id, status, false)
}

// DisconnectRide ends a ride with no grace period: its number stops
// connecting the parties at once (a party abusing the other, a ride
// created by mistake). An active ride ends with status; an ended ride
// still in its grace period keeps its status and has the rest of the
// grace cut off. A ride whose number no longer connects them changes
// nothing. Both changes emit ride.ended, marked disconnected.
func (s *Service) DisconnectRide(ctx context.Context, id int64, status RideStatus) (Ride, error) {
	return s.endRide(ctx, id, status, true)
}

func (s *Service) endRide(ctx context.Context, id int64, status RideStatus, disconnect bool) (Ride, error) {
	if status != RideCompleted && status != RideCancelled {
		return Ride{}, InvalidField("status", `Status must be "completed" or "cancelled".`)
	}
	now := s.Now()
	expires := now.Add(s.GracePeriod)
	if disconnect {
		expires = now
	}
	var r Ride
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		_, err := q.RideEnd(ctx, db.RideEndParams{ID: id, Status: string(status), Now: now, ExpiresAt: expires})
		if disconnect && errors.Is(err, pgx.ErrNoRows) {
			_, err = q.RideCutGrace(ctx, db.RideCutGraceParams{ID: id, Now: now})
		}
		changed := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("end ride: %w", err)
		}
		if r, err = s.ride(ctx, q, id); err != nil || !changed {
			return err
		}
		action := AuditRideEnd
		if disconnect {
			action = AuditRideDisconnect
		}
		if err := s.audit(ctx, q, AuditEntry{Action: action, RideID: &r.ID, Number: r.ProxyNumber,
			Detail: string(r.Status)}); err != nil {
			return err
		}
		ev := rideEventOf(r)
		ev.Disconnected = disconnect
		return s.emit(ctx, tx, EventRideEnded, ev)
	})
	if err == nil && r.ExpiresAt != nil {
		// This process routes by the ride's new end at once; others when
		// the notice reaches them.
		s.Routes.Cut(r.ProxyNumber, r.ID, *r.ExpiresAt)
	}
	return r, err
}

// maxExtendHours is the longest one extension of a grace period.
const maxExtendHours = 24 * 30

// ExtendGrace lengthens an ended ride's grace period by hours from its
// end or from now, whichever is later: for a lost item found late. It is
// refused when the number has since been given to one of the parties
// again.
func (s *Service) ExtendGrace(ctx context.Context, id int64, hours int) (Ride, error) {
	if hours < 1 || hours > maxExtendHours {
		return Ride{}, InvalidField("hours", "Choose how many hours to extend by (1 to 720).")
	}
	var r Ride
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		cur, err := s.ride(ctx, q, id)
		if err != nil {
			return err
		}
		if cur.ExpiresAt == nil {
			return Errorf(CodeRideActive, "The ride is still active: its number routes until it ends.")
		}
		from := *cur.ExpiresAt
		if now := s.Now(); from.Before(now) {
			from = now
		}
		if _, err := q.RideExtendGrace(ctx, db.RideExtendGraceParams{ID: id, ExpiresAt: from.Add(time.Duration(hours) * time.Hour)}); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.ConstraintName == "routes_one_valid" {
				return Errorf(CodeNumberReused, "The number now connects one of these people in another ride, so this ride's grace period cannot be extended.")
			}
			return err
		}
		if r, err = s.ride(ctx, q, id); err != nil {
			return err
		}
		return s.audit(ctx, q, AuditEntry{Action: AuditRideExtend, RideID: &r.ID, Number: r.ProxyNumber,
			Detail: fmt.Sprintf("+%d h", hours)})
	})
	return r, err
}

// RideQuery selects rides for RidePage.
type RideQuery struct {
	Status               string // "active", "ended" (no longer active) or "" for both
	Phone                string // either party's phone as typed; "" for anyone
	CustomerID, DriverID int64  // 0 for anyone
	Page
}

// RidePage returns a page of rides, newest first, and where the next page
// starts (nil after the last).
func (s *Service) RidePage(ctx context.Context, q RideQuery) ([]Ride, *Cursor, error) {
	lim, err := q.limit()
	if err != nil {
		return nil, nil, err
	}
	if q.Status != "" && q.Status != "active" && q.Status != "ended" {
		return nil, nil, InvalidField("status", "status must be active or ended.")
	}
	phone, err := s.phoneFilter(q.Phone)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.queries().RidePage(ctx, db.RidePageParams{Status: q.Status, Phone: phone,
		CustomerID: q.CustomerID, DriverID: q.DriverID, AfterID: q.After.ID, AfterAt: q.After.At, Lim: lim})
	if err != nil {
		return nil, nil, fmt.Errorf("page rides: %w", err)
	}
	rides := make([]Ride, len(rows))
	for i, r := range rows {
		rides[i] = toRide(db.RideGetRow(r))
	}
	rides, next := cut(rides, lim, func(r Ride) Cursor { return Cursor{At: r.CreatedAt, ID: r.ID} })
	return rides, next, nil
}

// phoneFilter reads a phone typed to find someone by: "" finds anyone. It
// reads it as a person's phone is read, then, for numbers stored under
// older rules, as any possible number.
func (s *Service) phoneFilter(typed string) (string, error) {
	if typed == "" {
		return "", nil
	}
	e164, err := phone.Parse(typed, s.DefaultCountry, phone.Valid)
	if err != nil {
		e164, err = phone.Parse(typed, s.DefaultCountry, phone.Possible)
	}
	if err != nil {
		return "", &Error{Code: CodeInvalidPhone, Field: "phone", Message: "Phone: " + err.Error() + "."}
	}
	return e164, nil
}

// CountActiveRides counts the rides under way.
func (s *Service) CountActiveRides(ctx context.Context) (int64, error) {
	n, err := s.queries().RideCountActive(ctx)
	if err != nil {
		return 0, fmt.Errorf("count rides: %w", err)
	}
	return n, nil
}

// EndStaleRides completes the active rides whose pickup is more than
// AutoEndAfter ago (the platform forgot to end them), in batches until none
// is left, so their numbers return to the pool after the grace period.
// Routing never waits for it: validity is decided by time in the routing
// queries. It returns how many rides it ended.
func (s *Service) EndStaleRides(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.Now()
		var ended []int64
		err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) (err error) {
			ended, err = q.RideEndStale(ctx, db.RideEndStaleParams{
				Now:          now,
				ExpiresAt:    now.Add(s.GracePeriod),
				PickupBefore: now.Add(-s.AutoEndAfter),
			})
			if err != nil {
				return err
			}
			for _, id := range ended {
				err := s.audit(ctx, q, AuditEntry{Action: AuditRideEnd, RideID: &id, Detail: string(RideCompleted) + " (auto, past pickup)"})
				if err != nil {
					return err
				}
			}
			if !s.Events {
				return nil
			}
			for _, id := range ended {
				r, err := s.ride(ctx, q, id)
				if err == nil {
					err = s.emit(ctx, tx, EventRideEnded, rideEventOf(r))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("end stale rides: %w", err)
		}
		if len(ended) == 0 {
			return total, nil
		}
		total += len(ended)
	}
}

func toRide(r db.RideGetRow) Ride {
	return Ride{
		ID: r.ID, Status: RideStatus(r.Status), ProxyNumber: r.ProxyNumber,
		CustomerID: r.CustomerID, CustomerName: r.CustomerName, CustomerPhone: r.CustomerPhone,
		DriverID: r.DriverID, DriverName: r.DriverName, DriverPhone: r.DriverPhone,
		Start: r.StartAddress, Destination: r.Destination, PickupAt: r.PickupAt,
		CreatedAt: r.CreatedAt, EndedAt: r.EndedAt, ExpiresAt: r.ExpiresAt,
	}
}
