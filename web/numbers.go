package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/components"
	"birdcar/sql/db"
)

// maxBulkLines bounds one paste, so one request stays one short transaction.
const maxBulkLines = 1000

var errNumberNotFound = &Error{Status: http.StatusNotFound, Code: "number_not_found", Message: "This number is not in the pool."}

// registerNumberRoutes mounts the number pool pages.
func (s *Server) registerNumberRoutes() {
	s.app.Get("/numbers", s.handleNumbers)
	s.app.Get("/numbers/health", s.handlePoolHealth)
	s.app.Post("/numbers", s.handleNumberAdd)
	s.app.Post("/numbers/bulk", s.handleNumberBulk)
	s.app.Post("/numbers/:id/enabled", s.handleNumberSetEnabled)
}

// poolHealth counts the enabled numbers no ride holds now or later — those
// that can take a new ride for anyone — and whether that is below the
// watermark.
func (s *Server) poolHealth(ctx context.Context) (free int, low bool, err error) {
	n, err := s.queries.ProxyNumberCountFree(ctx, s.now())
	if err != nil {
		return 0, false, fmt.Errorf("count free numbers: %w", err)
	}
	return int(n), int(n) < s.PoolLowWatermark, nil
}

func (s *Server) poolHealthProps(ctx context.Context) (components.PoolHealthProps, error) {
	free, low, err := s.poolHealth(ctx)
	return components.PoolHealthProps{Free: free, Watermark: s.PoolLowWatermark, Low: low}, err
}

func (s *Server) handlePoolHealth(c *fiber.Ctx) error {
	p, err := s.poolHealthProps(c.UserContext())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.PoolHealth(p))
}

// numbersPage fills p with the pool and its health.
func (s *Server) numbersPage(ctx context.Context, p components.NumbersProps) (components.NumbersProps, error) {
	var err error
	if p.Health, err = s.poolHealthProps(ctx); err != nil {
		return p, err
	}
	rows, err := s.queries.ProxyNumberListWithLoad(ctx, s.now())
	if err != nil {
		return p, fmt.Errorf("list numbers: %w", err)
	}
	p.Numbers = make([]components.PoolNumber, len(rows))
	for i, n := range rows {
		p.Numbers[i] = s.poolNumber(n)
	}
	return p, nil
}

func (s *Server) poolNumber(n db.ProxyNumberListWithLoadRow) components.PoolNumber {
	pn := components.PoolNumber{ID: n.ID, Number: n.Number, Country: n.Country, Enabled: n.Enabled, RidesNow: n.RidesNow}
	if n.LastAssignedAt != nil {
		pn.LastAssigned = n.LastAssignedAt.In(s.location()).Format("2 Jan 2006 15:04")
	}
	return pn
}

func (s *Server) handleNumbers(c *fiber.Ctx) error {
	p, err := s.numbersPage(c.UserContext(), components.NumbersProps{})
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Numbers", "numbers"), components.Numbers(p))
}

// showNumbers answers a form: the pool section for htmx (the forms target
// it), the whole page otherwise.
func (s *Server) showNumbers(c *fiber.Ctx, status int, p components.NumbersProps) error {
	p, err := s.numbersPage(c.UserContext(), p)
	if err != nil {
		return err
	}
	if isHTMX(c) {
		return render(c, status, components.NumbersSection(p))
	}
	return renderPage(c, status, s.layout(c, "Numbers", "numbers"), components.Numbers(p))
}

// addNumber validates and inserts one number in a savepoint of conn, so a
// refused duplicate spoils nothing around it.
func (s *Server) addNumber(ctx context.Context, conn DB, raw, country string) (db.ProxyNumber, error) {
	params, err := s.numberInput(raw, country)
	if err != nil {
		return db.ProxyNumber{}, err
	}
	var n db.ProxyNumber
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) (err error) {
		n, err = db.New(tx).ProxyNumberCreate(ctx, params)
		return err
	})
	if isUniqueViolation(err) {
		return n, &Error{Status: http.StatusConflict, Code: "duplicate_number", Field: "number",
			Message: params.Number + " is already in the pool."}
	}
	if err != nil {
		return n, fmt.Errorf("create number: %w", err)
	}
	return n, nil
}

func (s *Server) handleNumberAdd(c *fiber.Ctx) error {
	form := components.NumberForm{Number: c.FormValue("number"), Country: c.FormValue("country")}
	var p components.NumbersProps
	status := http.StatusOK
	n, err := s.addNumber(c.UserContext(), s.DB, form.Number, form.Country)
	switch fe := formError(err); {
	case fe != nil:
		status = fe.Status
		form.Errors = map[string]string{fe.Field: fe.Message}
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
	ctx := c.UserContext()
	var report components.BulkReport
	// One transaction: either every valid line is added and reported, or
	// none is.
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		for i, line := range lines {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			raw, country, _ := strings.Cut(line, ",")
			n, err := s.addNumber(ctx, tx, raw, country)
			if fe := formError(err); fe != nil {
				report.Rejected = append(report.Rejected, components.BulkReject{Line: i + 1, Text: line, Reason: fe.Message})
				continue
			}
			if err != nil {
				return err
			}
			report.Added = append(report.Added, n.Number)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.Report = &report
	if len(report.Added) > 0 {
		c.Set(hxTrigger, components.PoolChanged)
	}
	return s.showNumbers(c, http.StatusOK, p)
}

// handleNumberSetEnabled sets (rather than flips) a number's state, so a
// repeated click cannot undo itself. Disabling only stops new assignments:
// rides on the number keep routing.
func (s *Server) handleNumberSetEnabled(c *fiber.Ctx) error {
	id, err := pathID(c, errNumberNotFound)
	if err != nil {
		return err
	}
	enabled, err := strconv.ParseBool(c.FormValue("enabled"))
	if err != nil {
		return invalid("enabled", `Enabled must be "true" or "false".`)
	}
	row, err := s.queries.ProxyNumberSetEnabled(c.UserContext(), db.ProxyNumberSetEnabledParams{ID: id, Enabled: enabled, Now: s.now()})
	if errors.Is(err, pgx.ErrNoRows) {
		return errNumberNotFound
	} else if err != nil {
		return fmt.Errorf("set number enabled: %w", err)
	}
	c.Set(hxTrigger, components.PoolChanged)
	if !isHTMX(c) {
		return c.Redirect("/numbers", http.StatusSeeOther)
	}
	return render(c, http.StatusOK, components.NumberRow(s.poolNumber(db.ProxyNumberListWithLoadRow(row))))
}
