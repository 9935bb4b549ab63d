package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/ride"
)

// maxBulkLines bounds one paste, so one request stays one short transaction.
const maxBulkLines = 1000

// registerNumberRoutes mounts the number pool pages.
func (s *Server) registerNumberRoutes() {
	s.app.Get("/numbers", s.handleNumbers)
	s.app.Get("/numbers/health", s.handlePoolHealth)
	s.app.Post("/numbers", s.handleNumberAdd)
	s.app.Post("/numbers/bulk", s.handleNumberBulk)
	s.app.Post("/numbers/:id/enabled", s.handleNumberSetEnabled)
}

func (s *Server) handlePoolHealth(c *fiber.Ctx) error {
	h, err := s.Rides.PoolHealth(c.UserContext())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.PoolHealth(h))
}

// numbersPage fills p with the pool and its health.
func (s *Server) numbersPage(c *fiber.Ctx, p components.NumbersProps) (components.NumbersProps, error) {
	var err error
	if p.Health, err = s.Rides.PoolHealth(c.UserContext()); err != nil {
		return p, err
	}
	nums, err := s.Rides.NumbersWithLoad(c.UserContext())
	if err != nil {
		return p, err
	}
	p.Numbers = make([]components.PoolNumber, len(nums))
	for i, n := range nums {
		p.Numbers[i] = s.poolNumber(n)
	}
	return p, nil
}

func (s *Server) poolNumber(n ride.Number) components.PoolNumber {
	pn := components.PoolNumber{ID: n.ID, Number: n.Number, Country: n.Country, Enabled: n.Enabled, RidesNow: n.RidesNow}
	if n.LastAssignedAt != nil {
		pn.LastAssigned = n.LastAssignedAt.In(s.Rides.Location()).Format("2 Jan 2006 15:04")
	}
	return pn
}

func (s *Server) handleNumbers(c *fiber.Ctx) error {
	p, err := s.numbersPage(c, components.NumbersProps{})
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Numbers", "numbers"), components.Numbers(p))
}

// showNumbers answers a form: the pool section for htmx (the forms target
// it), the whole page otherwise.
func (s *Server) showNumbers(c *fiber.Ctx, status int, p components.NumbersProps) error {
	p, err := s.numbersPage(c, p)
	if err != nil {
		return err
	}
	if isHTMX(c) {
		return render(c, status, components.NumbersSection(p))
	}
	return renderPage(c, status, s.layout(c, "Numbers", "numbers"), components.Numbers(p))
}

func (s *Server) handleNumberAdd(c *fiber.Ctx) error {
	form := components.NumberForm{Number: c.FormValue("number"), Country: c.FormValue("country")}
	var p components.NumbersProps
	status := http.StatusOK
	n, err := s.Rides.AddNumber(c.UserContext(), ride.NumberInput{Number: form.Number, Country: form.Country})
	switch fe, feStatus := formError(err); {
	case fe != nil:
		status = feStatus
		form.Errors = fe
		p.Add = form
	case err != nil:
		return err
	case !isHTMX(c):
		return c.Redirect("/numbers", http.StatusSeeOther)
	default:
		c.Set(hxTrigger, components.PoolChanged)
		p.Added = n.Number
	}
	return s.showNumbers(c, status, p)
}

// handleNumberBulk adds one number per pasted line ("number[,CC]"), keeps
// the valid ones and reports the rest by line number. Blank lines are
// skipped but counted, so the numbers match the operator's editor.
func (s *Server) handleNumberBulk(c *fiber.Ctx) error {
	text := c.FormValue("numbers")
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var p components.NumbersProps
	switch {
	case strings.TrimSpace(text) == "":
		p.Bulk = components.BulkForm{Text: text, Error: "Paste at least one number, one per line."}
	case len(lines) > maxBulkLines:
		p.Bulk = components.BulkForm{Text: text, Error: "Paste at most " + strconv.Itoa(maxBulkLines) + " lines at a time."}
	}
	if p.Bulk.Error != "" {
		return s.showNumbers(c, http.StatusUnprocessableEntity, p)
	}
	var ins []ride.NumberInput
	var lineOf []int // the line number of each input
	for i, line := range lines {
		if line = strings.TrimSpace(line); line != "" {
			raw, country, _ := strings.Cut(line, ",")
			ins = append(ins, ride.NumberInput{Number: raw, Country: country})
			lineOf = append(lineOf, i+1)
		}
	}
	added, rejected, err := s.Rides.AddNumbers(c.UserContext(), ins)
	if err != nil {
		return err
	}
	report := components.BulkReport{}
	for _, n := range added {
		report.Added = append(report.Added, n.Number)
	}
	for _, r := range rejected {
		line := lineOf[r.Index]
		report.Rejected = append(report.Rejected, components.BulkReject{Line: line, Text: strings.TrimSpace(lines[line-1]), Reason: r.Err.Message})
	}
	p.Report = &report
	if len(added) > 0 {
		c.Set(hxTrigger, components.PoolChanged)
	}
	return s.showNumbers(c, http.StatusOK, p)
}

// handleNumberSetEnabled sets a number's state from the form.
func (s *Server) handleNumberSetEnabled(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrNumberNotFound)
	if err != nil {
		return err
	}
	enabled, err := strconv.ParseBool(c.FormValue("enabled"))
	if err != nil {
		return ride.InvalidField("enabled", `Enabled must be "true" or "false".`)
	}
	n, err := s.Rides.SetNumberEnabled(c.UserContext(), id, enabled)
	if err != nil {
		return err
	}
	c.Set(hxTrigger, components.PoolChanged)
	if !isHTMX(c) {
		return c.Redirect("/numbers", http.StatusSeeOther)
	}
	return render(c, http.StatusOK, components.NumberRow(s.poolNumber(n)))
}
