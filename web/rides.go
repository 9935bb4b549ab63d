package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/components"
	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// ridesPerPage is the length of a page of the ride list.
const ridesPerPage = 25

// pickupLayout is how a datetime-local input sends its value.
const pickupLayout = "2006-01-02T15:04"

// maxRidePage keeps a page's offset within the query's int32.
const maxRidePage = 1_000_000

func (s *Server) registerRideRoutes() {
	s.app.Get("/rides", s.handleRides)
	s.app.Get("/rides/list", s.handleRideList)
	s.app.Get("/rides/options", s.handleRideOptions)
	s.app.Post("/rides", s.handleRideCreate)
	s.app.Get("/rides/:id", s.handleRide)
	s.app.Get("/rides/:id/timeline", s.handleRideTimeline)
	s.app.Post("/rides/:id/end", s.handleRideEnd)
	s.app.Post("/rides/:id/extend", s.handleRideExtend)
}

func rideFilters(c *fiber.Ctx) components.RideFilters {
	f := components.RideFilters{Status: c.Query("status"), Q: sanitize(strings.TrimSpace(c.Query("q"))),
		Page: min(max(c.QueryInt("page", 1), 1), maxRidePage)}
	switch f.Status {
	case "active", "grace", "ended":
	default:
		f.Status = ""
	}
	return f
}

// rideList loads one page of rides. A search that reads as a phone number
// also matches its E.164 form ("06 1111" finds "+31 6 1111 …").
func (s *Server) rideList(c *fiber.Ctx, f components.RideFilters) (components.RideListProps, error) {
	q := f.Q
	if digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q); len(digits) >= 4 && len(digits) == len(strings.NewReplacer(" ", "", "+", "", "-", "").Replace(q)) {
		if e164, err := phone.Normalize(q, s.DefaultCountry); err == nil {
			q = e164
		} else {
			q = digits
		}
	}
	now := s.now()
	rows, err := s.queries.RideList(c.UserContext(), db.RideListParams{
		Filter: f.Status, Now: now, Q: q, Lim: ridesPerPage + 1, Off: int32((f.Page - 1) * ridesPerPage),
	})
	if err != nil {
		return components.RideListProps{}, fmt.Errorf("list rides: %w", err)
	}
	p := components.RideListProps{Filters: f, Rides: rows, Now: now}
	if len(rows) > ridesPerPage {
		p.Rides, p.HasNext = rows[:ridesPerPage], true
	}
	return p, nil
}

// personOptions lists the people of a role matching search as choices
// (as many as the People page shows; a search narrows them).
func (s *Server) personOptions(c *fiber.Ctx, role, search string) ([]components.Option, error) {
	for _, t := range personTables {
		if string(t.role) != role {
			continue
		}
		people, err := t.list(s.queries, c.UserContext(), search)
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", role, err)
		}
		opts := make([]components.Option, len(people))
		for i, p := range people {
			opts[i] = components.Option{Value: strconv.FormatInt(p.ID, 10), Label: p.Name + " (" + p.Phone + ")"}
		}
		return opts, nil
	}
	return nil, invalid("role", "Unknown kind of person.")
}

// rideForm fills the create form's choices of people.
func (s *Server) rideForm(c *fiber.Ctx, values, errs map[string]string) (components.RideFormProps, error) {
	p := components.RideFormProps{Values: values, Errors: errs}
	var err error
	if p.Customers, err = s.personOptions(c, string(components.RoleCustomer), ""); err != nil {
		return p, err
	}
	if p.Drivers, err = s.personOptions(c, string(components.RoleDriver), ""); err != nil {
		return p, err
	}
	if p.Values == nil {
		p.Values = map[string]string{"pickup_at": s.now().In(s.location()).Add(15 * time.Minute).Format(pickupLayout)}
	}
	return p, nil
}

func (s *Server) handleRides(c *fiber.Ctx) error {
	list, err := s.rideList(c, rideFilters(c))
	if err != nil {
		return err
	}
	form, err := s.rideForm(c, nil, nil)
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Rides", "rides"), components.RidesPage(components.RidesPageProps{Form: form, List: list}))
}

func (s *Server) handleRideList(c *fiber.Ctx) error {
	if !isHTMX(c) {
		return c.Redirect("/rides?"+string(c.Request().URI().QueryString()), http.StatusSeeOther)
	}
	list, err := s.rideList(c, rideFilters(c))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.RideList(list))
}

// handleRideOptions answers the create form's search for a customer or
// driver with the matching choices.
func (s *Server) handleRideOptions(c *fiber.Ctx) error {
	role := c.Query("role")
	opts, err := s.personOptions(c, role, sanitize(strings.TrimSpace(c.Query(role+"_q"))))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.PersonOptions(opts, ""))
}

// handleRideCreate creates a ride from the console's form. Invalid input
// re-renders the form with the fields' errors (422); a full pool says so
// (409); success clears the form, names the number and adds the row.
func (s *Server) handleRideCreate(c *fiber.Ctx) error {
	values := map[string]string{}
	for _, k := range []string{"customer_id", "driver_id", "start", "destination", "pickup_at"} {
		values[k] = c.FormValue(k)
	}
	errs := map[string]string{}
	in := rideInput{Start: values["start"], Destination: values["destination"]}
	var err error
	if in.CustomerID, err = strconv.ParseInt(values["customer_id"], 10, 64); err != nil {
		errs["customer_id"] = "Choose a customer."
	}
	if in.DriverID, err = strconv.ParseInt(values["driver_id"], 10, 64); err != nil {
		errs["driver_id"] = "Choose a driver."
	}
	if in.PickupAt, err = time.ParseInLocation(pickupLayout, values["pickup_at"], s.location()); err != nil {
		errs["pickup_at"] = "Enter the pickup date and time."
	}
	var ride db.RideGetRow
	if len(errs) == 0 {
		err = pgx.BeginFunc(c.UserContext(), s.DB, func(tx pgx.Tx) (err error) {
			ride, err = s.createRide(c.UserContext(), tx, in)
			return err
		})
		var pub *Error
		switch {
		case errors.As(err, &pub) && pub.Field != "":
			errs[pub.Field] = pub.Message
		case errors.As(err, &pub):
			errs[""] = pub.Message
		case err != nil:
			return err
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
		if _, whole := errs[""]; whole {
			status = http.StatusConflict
		}
	} else {
		values = nil // a fresh form
	}
	form, err := s.rideForm(c, values, errs)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return render(c, status, components.RideForm(form))
	}
	form.Created = &ride
	c.Set(hxTrigger, "ride-created")
	return render(c, status, templ.Join(components.RideForm(form), components.RideRowOOB(components.RideRowProps{
		ID: ride.ID, Status: ride.Status, ProxyNumber: ride.ProxyNumber, CustomerName: ride.CustomerName,
		DriverName: ride.DriverName, PickupAt: ride.PickupAt, ExpiresAt: ride.ExpiresAt, Now: s.now(),
	})))
}

// rideDetail loads a ride and everything that happened on it.
func (s *Server) rideDetail(c *fiber.Ctx) (components.RideDetailProps, error) {
	id, err := pathID(c, errRideNotFound)
	if err != nil {
		return components.RideDetailProps{}, err
	}
	ctx := c.UserContext()
	ride, err := s.queries.RideGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return components.RideDetailProps{}, errRideNotFound
	} else if err != nil {
		return components.RideDetailProps{}, fmt.Errorf("get ride: %w", err)
	}
	p := components.RideDetailProps{Ride: ride, Now: s.now()}
	p.Timeline, err = s.timeline(c, ride, p.Now)
	return p, err
}

// timeline merges the ride's messages, calls, and the attempts from its
// parties' phones that no route matched while the ride held the number.
func (s *Server) timeline(c *fiber.Ctx, ride db.RideGetRow, now time.Time) ([]components.TimelineItem, error) {
	ctx := c.UserContext()
	msgs, err := s.queries.MessageListByRide(ctx, &ride.ID)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	calls, err := s.queries.CallListByRide(ctx, &ride.ID)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	// Attempts until a day after the number stopped routing for them.
	until := now
	if ride.ExpiresAt != nil && ride.ExpiresAt.Add(24*time.Hour).Before(now) {
		until = ride.ExpiresAt.Add(24 * time.Hour)
	}
	strayTexts, err := s.queries.MessageListUnmatchedFrom(ctx, db.MessageListUnmatchedFromParams{
		PhoneA: ride.CustomerPhone, PhoneB: ride.DriverPhone, ProxyNumber: ride.ProxyNumber, Since: ride.CreatedAt, Until: until})
	if err != nil {
		return nil, fmt.Errorf("list unmatched messages: %w", err)
	}
	strayCalls, err := s.queries.CallListUnmatchedFrom(ctx, db.CallListUnmatchedFromParams{
		SourceA: phone.Digits(ride.CustomerPhone), SourceB: phone.Digits(ride.DriverPhone), Destination: phone.Digits(ride.ProxyNumber),
		Since: ride.CreatedAt, Until: until})
	if err != nil {
		return nil, fmt.Errorf("list unmatched calls: %w", err)
	}
	who := func(number string) string {
		switch number {
		case ride.CustomerPhone:
			return ride.CustomerName
		case ride.DriverPhone:
			return ride.DriverName
		}
		return number
	}
	var items []components.TimelineItem
	for _, m := range append(msgs, strayTexts...) {
		it := components.TimelineItem{At: m.CreatedAt, Body: m.Body, Status: m.Status}
		switch {
		case m.Kind == "notification":
			it.Kind, it.Title = "out", "Notification to "+who(m.Recipient)
		case m.Kind == "forward":
			it.Kind, it.Title = "out", "Forwarded to "+who(m.Recipient)
		case m.Status == "unmatched":
			it.Kind, it.Title = "unmatched", "Unrouted SMS from "+who(m.Originator)
		default:
			it.Kind, it.Title, it.Status = "in", "SMS from "+who(m.Originator), ""
		}
		if m.LastError != nil && m.Status != "sent" && m.Status != "delivered" {
			it.Detail = *m.LastError
		}
		items = append(items, it)
	}
	for _, k := range append(calls, strayCalls...) {
		it := components.TimelineItem{At: k.CreatedAt, Kind: "call"}
		caller, _ := phone.Normalize(k.Source, s.DefaultCountry)
		if k.TransferredTo != nil {
			it.Title = "Call from " + who(caller) + " put through to " + who(*k.TransferredTo)
			it.Status = "transferred"
		} else {
			it.Kind, it.Title, it.Status = "unmatched", "Call from "+who(caller)+" refused: no valid route", "rejected"
		}
		items = append(items, it)
	}
	sortTimeline(items)
	return items, nil
}

func sortTimeline(items []components.TimelineItem) {
	// Insertion sort: the lists arrive sorted and are short.
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].At.Before(items[j-1].At); j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

func (s *Server) handleRide(c *fiber.Ctx) error {
	p, err := s.rideDetail(c)
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Ride #"+strconv.FormatInt(p.Ride.ID, 10), "rides"), components.RideDetail(p))
}

func (s *Server) handleRideTimeline(c *fiber.Ctx) error {
	p, err := s.rideDetail(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.Timeline(p.Timeline))
}

func (s *Server) handleRideEnd(c *fiber.Ctx) error {
	id, err := pathID(c, errRideNotFound)
	if err != nil {
		return err
	}
	ride, err := s.endRide(c.UserContext(), s.queries, id, c.FormValue("status"))
	if err != nil {
		return err
	}
	return s.renderSummary(c, ride, "Ride "+ride.Status+". Its number keeps connecting these two until "+formatClock(s, ride.ExpiresAt)+".")
}

// handleRideExtend lengthens an ended ride's grace period, for a lost item
// found late.
func (s *Server) handleRideExtend(c *fiber.Ctx) error {
	id, err := pathID(c, errRideNotFound)
	if err != nil {
		return err
	}
	hours, err := strconv.Atoi(c.FormValue("hours"))
	if err != nil || hours < 1 || hours > 24*30 {
		return invalid("hours", "Choose how many hours to extend by (1 to 720).")
	}
	ctx := c.UserContext()
	var ride db.RideGetRow
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		cur, err := q.RideGet(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return errRideNotFound
		} else if err != nil {
			return err
		}
		if cur.ExpiresAt == nil {
			return &Error{Status: http.StatusConflict, Code: "ride_active", Message: "The ride is still active: its number routes until it ends."}
		}
		from := *cur.ExpiresAt
		if now := s.now(); from.Before(now) {
			from = now
		}
		if _, err := q.RideExtendGrace(ctx, db.RideExtendGraceParams{ID: id, ExpiresAt: from.Add(time.Duration(hours) * time.Hour)}); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.ConstraintName == "routes_one_valid" {
				return &Error{Status: http.StatusConflict, Code: "number_reused",
					Message: "The number now connects one of these people in another ride, so this ride's grace period cannot be extended."}
			}
			return err
		}
		ride, err = q.RideGet(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	return s.renderSummary(c, ride, "Grace period extended: the number connects them until "+formatClock(s, ride.ExpiresAt)+".")
}

func (s *Server) renderSummary(c *fiber.Ctx, ride db.RideGetRow, msg string) error {
	p := components.RideDetailProps{Ride: ride, Now: s.now(), Message: msg}
	if !isHTMX(c) {
		return c.Redirect("/rides/"+strconv.FormatInt(ride.ID, 10), http.StatusSeeOther)
	}
	return render(c, http.StatusOK, components.RideSummary(p))
}

func formatClock(s *Server, t *time.Time) string {
	if t == nil {
		return "the ride ends"
	}
	return t.In(s.location()).Format("2 Jan 15:04")
}
