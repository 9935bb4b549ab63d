package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/ride"
	"birdcar/sql/ride/phone"
)

// ridesPerPage is the length of a page of the ride list.
const ridesPerPage = 25

// pickupLayout is how a datetime-local input sends its value.
const pickupLayout = "2006-01-02T15:04"

// maxRidePage keeps a page's offset within the query's int32.
const maxRidePage = 1_000_000

// peopleShown is how many of each role a list or a choice shows; a search
// finds the rest.
const peopleShown = 100

func (s *Server) registerRideRoutes() {
	s.app.Get("/rides", s.handleRides)
	s.app.Get("/rides/list", s.handleRideList)
	s.app.Get("/rides/options", s.handleRideOptions)
	s.app.Post("/rides", s.handleRideCreate)
	s.app.Get("/rides/:id", s.handleRide)
	s.app.Get("/rides/:id/timeline", s.handleRideTimeline)
	s.app.Get("/rides/:id/summary", s.handleRideSummary)
	s.app.Get("/rides/:id/end", s.handleRideEndConfirm)
	s.app.Post("/rides/:id/end", s.handleRideEnd)
	s.app.Post("/rides/:id/extend", s.handleRideExtend)
}

// rideFilters reads the list's filters from the URL; a date that does not
// parse is dropped.
func rideFilters(c *fiber.Ctx) components.RideFilters {
	f := components.RideFilters{Status: c.Query("status"), Q: ride.Sanitize(strings.TrimSpace(c.Query("q"))),
		From: c.Query("from"), To: c.Query("to"), Page: min(max(c.QueryInt("page", 1), 1), maxRidePage)}
	switch f.Status {
	case "active", "grace", "ended":
	default:
		f.Status = ""
	}
	for _, d := range []*string{&f.From, &f.To} {
		if _, err := time.Parse(time.DateOnly, *d); err != nil {
			*d = ""
		}
	}
	return f
}

// rideList loads one page of rides. The dates bound the pickup, in the
// service's time zone, both days included.
func (s *Server) rideList(c *fiber.Ctx, f components.RideFilters) (components.RideListProps, error) {
	rf := ride.RideFilter{State: f.Status, Query: f.Q, Limit: ridesPerPage + 1, Offset: (f.Page - 1) * ridesPerPage}
	rf.PickupFrom, rf.PickupTo, _ = dayRange(f.From, f.To, s.Rides.Location()) // rideFilters dropped bad dates
	rides, err := s.Rides.ListRides(c.UserContext(), rf)
	if err != nil {
		return components.RideListProps{}, err
	}
	p := components.RideListProps{Filters: f, Rides: rides, Now: s.Rides.Now()}
	if len(rides) > ridesPerPage {
		p.Rides, p.HasNext = rides[:ridesPerPage], true
	}
	return p, nil
}

// personOptions lists the people of a role matching search as choices.
func (s *Server) personOptions(c *fiber.Ctx, role ride.Role, search string) ([]components.Option, error) {
	if !role.Valid() {
		return nil, ride.InvalidField("role", "Unknown kind of person.")
	}
	people, err := s.Rides.People(c.UserContext(), role, search, peopleShown)
	if err != nil {
		return nil, err
	}
	opts := make([]components.Option, len(people))
	for i, p := range people {
		opts[i] = components.Option{Value: strconv.FormatInt(p.ID, 10), Label: p.Name + " (" + phone.Format(p.Phone) + ")"}
	}
	return opts, nil
}

// rideForm fills the create form's choices of people.
func (s *Server) rideForm(c *fiber.Ctx, values, errs map[string]string) (components.RideFormProps, error) {
	p := components.RideFormProps{Values: values, Errors: errs}
	var err error
	if p.Customers, err = s.personOptions(c, ride.RoleCustomer, ""); err != nil {
		return p, err
	}
	if p.Drivers, err = s.personOptions(c, ride.RoleDriver, ""); err != nil {
		return p, err
	}
	if p.Values == nil {
		p.Values = map[string]string{"pickup_at": s.Rides.Now().In(s.Rides.Location()).Add(15 * time.Minute).Format(pickupLayout)}
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
	pool, err := s.Rides.PoolHealth(c.UserContext())
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Rides", "rides"), components.RidesPage(components.RidesPageProps{Form: form, List: list, Pool: pool}))
}

func (s *Server) handleRideList(c *fiber.Ctx) error {
	if !isHTMX(c) {
		f := rideFilters(c)
		return c.Redirect("/rides?"+f.Query(f.Page), http.StatusSeeOther)
	}
	f := rideFilters(c)
	list, err := s.rideList(c, f)
	if err != nil {
		return err
	}
	// The address bar shows the page, not the fragment, so the link can
	// be shared and the back button walks the searches.
	c.Set(hxPushURL, "/rides?"+f.Query(f.Page))
	return render(c, http.StatusOK, components.RideList(list))
}

// handleRideOptions answers the create form's search for a customer or
// driver with the matching choices.
func (s *Server) handleRideOptions(c *fiber.Ctx) error {
	role := c.Query("role")
	opts, err := s.personOptions(c, ride.Role(role), ride.Sanitize(strings.TrimSpace(c.Query(role+"_q"))))
	if err != nil {
		return err
	}
	// The person chosen stays chosen; a search that finds one person
	// chooses them.
	selected := c.Query(role + "_id")
	if len(opts) == 1 {
		selected = opts[0].Value
	}
	return render(c, http.StatusOK, components.PersonOptions(opts, selected))
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
	in := ride.NewRide{Start: values["start"], Destination: values["destination"]}
	var err error
	if in.CustomerID, err = strconv.ParseInt(values["customer_id"], 10, 64); err != nil {
		errs["customer_id"] = "Choose a customer."
	}
	if in.DriverID, err = strconv.ParseInt(values["driver_id"], 10, 64); err != nil {
		errs["driver_id"] = "Choose a driver."
	}
	if in.PickupAt, err = time.ParseInLocation(pickupLayout, values["pickup_at"], s.Rides.Location()); err != nil {
		errs["pickup_at"] = "Enter the pickup date and time."
	}
	var created ride.Ride
	if len(errs) > 0 {
		// The form's own faults stop the ride, and the domain's checks
		// that need no database are shown with them: every field at once.
		err = in.Check()
	} else {
		created, err = s.Rides.CreateRide(c.UserContext(), in)
	}
	if e := ride.AsError(err); e != nil {
		for field, msg := range e.FieldErrors() {
			if _, own := errs[field]; !own {
				errs[field] = msg
			}
		}
	} else if err != nil {
		return err
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
	form.Created = &created
	c.Set(hxTrigger, "ride-created")
	return render(c, status, templ.Join(components.RideForm(form), components.RideRowOOB(created, s.Rides.Now())))
}

// rideDetail loads a ride and everything that happened on it.
func (s *Server) rideDetail(c *fiber.Ctx) (components.RideDetailProps, error) {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return components.RideDetailProps{}, err
	}
	r, err := s.Rides.Ride(c.UserContext(), id)
	if err != nil {
		return components.RideDetailProps{}, err
	}
	p := components.RideDetailProps{Ride: r, Now: s.Rides.Now()}
	p.Timeline, err = s.Rides.Timeline(c.UserContext(), r)
	return p, err
}

func (s *Server) handleRide(c *fiber.Ctx) error {
	p, err := s.rideDetail(c)
	if err != nil {
		return err
	}
	p.Message = notice(c)
	return renderPage(c, http.StatusOK, s.layout(c, "Ride #"+strconv.FormatInt(p.Ride.ID, 10), "rides"), components.RideDetail(p))
}

func (s *Server) handleRideTimeline(c *fiber.Ctx) error {
	p, err := s.rideDetail(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.Timeline(p.Timeline))
}

// handleRideSummary is the ride's header with its actions: a
// confirmation's Back.
func (s *Server) handleRideSummary(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	r, err := s.Rides.Ride(c.UserContext(), id)
	if err != nil {
		return err
	}
	return s.renderSummary(c, r, "")
}

// handleRideEndConfirm asks before a ride ends (?status=completed or
// cancelled), and whether its number keeps connecting the two for the
// grace period or stops now (?routing=now preselects that); for an ended
// ride still routing, it asks to disconnect it now. In place for htmx, a
// page of its own without.
func (s *Server) handleRideEndConfirm(c *fiber.Ctx) error {
	p, err := s.rideDetail(c)
	if err != nil {
		return err
	}
	p.Confirm, p.DisconnectNow = ride.RideStatus(c.Query("status")), c.Query("routing") == "now"
	if p.Ride.Status != ride.RideActive {
		if !p.Ride.InGrace(p.Now) {
			return s.renderSummary(c, p.Ride, "This ride's number no longer connects its parties.")
		}
		p.Confirm = p.Ride.Status
	} else if p.Confirm != ride.RideCompleted && p.Confirm != ride.RideCancelled {
		return ride.InvalidField("status", `Status must be "completed" or "cancelled".`)
	}
	p.Grace = graceText(s.Rides.GracePeriod)
	if isHTMX(c) {
		return render(c, http.StatusOK, components.RideSummary(p))
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Ride #"+strconv.FormatInt(p.Ride.ID, 10), "rides"), components.RideDetail(p))
}

// graceText is a grace period as an operator reads it: "24 h", "90 min".
func graceText(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return strconv.Itoa(int(d/time.Minute)) + " min"
}

// handleRideEnd ends a ride with status: routing=now disconnects it (its
// number stops connecting the two at once, also for a ride already in its
// grace period), anything else leaves the grace period.
func (s *Server) handleRideEnd(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	status := ride.RideStatus(c.FormValue("status"))
	if c.FormValue("routing") == "now" {
		r, err := s.Rides.DisconnectRide(c.UserContext(), id, status)
		if err != nil {
			return err
		}
		return s.renderSummary(c, r, "Ride "+string(r.Status)+" and disconnected: its number no longer connects these two.")
	}
	r, err := s.Rides.EndRide(c.UserContext(), id, status)
	if err != nil {
		return err
	}
	return s.renderSummary(c, r, "Ride "+string(r.Status)+". Its number keeps connecting these two until "+s.formatClock(r.ExpiresAt)+".")
}

// handleRideExtend lengthens an ended ride's grace period, for a lost item
// found late.
func (s *Server) handleRideExtend(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrRideNotFound)
	if err != nil {
		return err
	}
	hours, _ := strconv.Atoi(c.FormValue("hours")) // 0, refused, when it is not a number
	r, err := s.Rides.ExtendGrace(c.UserContext(), id, hours)
	if e := ride.AsError(err); e != nil && e.Code.Kind() != ride.Internal && isHTMX(c) {
		// Refused: said on the ride's card, which stays as it was.
		cur, gerr := s.Rides.Ride(c.UserContext(), id)
		if gerr != nil {
			return gerr
		}
		return render(c, statusOf[e.Code.Kind()], components.RideSummary(components.RideDetailProps{Ride: cur, Now: s.Rides.Now(), Error: e.Message}))
	}
	if err != nil {
		return err
	}
	return s.renderSummary(c, r, "Grace period extended: the number connects them until "+s.formatClock(r.ExpiresAt)+".")
}

func (s *Server) renderSummary(c *fiber.Ctx, r ride.Ride, msg string) error {
	if !isHTMX(c) {
		// A form sent without htmx (no JavaScript, or before it bound the
		// form) says what it did on the page it returns to.
		return c.Redirect(noticeURL(c, "/rides/"+strconv.FormatInt(r.ID, 10), msg), http.StatusSeeOther)
	}
	return render(c, http.StatusOK, components.RideSummary(components.RideDetailProps{Ride: r, Now: s.Rides.Now(), Message: msg}))
}

func (s *Server) formatClock(t *time.Time) string {
	if t == nil {
		return "the ride ends"
	}
	return s.Rides.Format(*t)
}

// dayRange reads a from–to pair of dates as a date input sends them
// (YYYY-MM-DD; either may be "") as the times they bound in zone, both
// days included: since is the start of from, until the start of the day
// after to. bad names a date that does not parse.
func dayRange(from, to string, zone *time.Location) (since, until time.Time, bad string) {
	if from != "" {
		d, err := time.ParseInLocation(time.DateOnly, from, zone)
		if err != nil {
			return since, until, "from"
		}
		since = d
	}
	if to != "" {
		d, err := time.ParseInLocation(time.DateOnly, to, zone)
		if err != nil {
			return since, until, "to"
		}
		until = d.AddDate(0, 0, 1)
	}
	return since, until, ""
}
