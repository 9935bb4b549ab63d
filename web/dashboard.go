package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/db"
)

// overviewRows is how many rides and unmatched attempts the overview lists.
const overviewRows = 10

func (s *Server) registerDashboardRoutes() {
	s.app.Get("/", s.handleDashboard)
}

func (s *Server) handleDashboard(c *fiber.Ctx) error {
	ctx := c.UserContext()
	now := s.now()
	p := components.DashboardProps{Now: now}
	var err error
	if p.ActiveRides, err = s.queries.RideCountActive(ctx); err != nil {
		return fmt.Errorf("count rides: %w", err)
	}
	if p.FreeNumbers, p.PoolLow, err = s.poolHealth(ctx); err != nil {
		return err
	}
	local := now.In(s.location())
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, s.location())
	counts, err := s.queries.MessageCountsSince(ctx, midnight)
	if err != nil {
		return fmt.Errorf("count messages: %w", err)
	}
	p.MessagesToday, p.FailuresToday = counts.Total, counts.Failed
	first := now.Truncate(time.Hour).Add(-23 * time.Hour)
	perHour, err := s.queries.MessagePerHour(ctx, first)
	if err != nil {
		return fmt.Errorf("messages per hour: %w", err)
	}
	p.PerHour = hourly(first, perHour)
	if p.Rides, err = s.queries.RideList(ctx, db.RideListParams{Now: now, Lim: overviewRows}); err != nil {
		return fmt.Errorf("list rides: %w", err)
	}
	if p.UnmatchedTexts, err = s.queries.MessageListUnmatched(ctx, overviewRows); err != nil {
		return fmt.Errorf("list unmatched texts: %w", err)
	}
	if p.UnmatchedCalls, err = s.queries.CallListUnmatched(ctx, overviewRows); err != nil {
		return fmt.Errorf("list unmatched calls: %w", err)
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Overview", "overview"), components.Dashboard(p))
}

// hourly spreads the database's counts over 24 hours from first, zeros included.
func hourly(first time.Time, rows []db.MessagePerHourRow) []components.HourCount {
	out := make([]components.HourCount, 24)
	for i := range out {
		out[i].Hour = first.Add(time.Duration(i) * time.Hour)
	}
	for _, r := range rows {
		if i := int(r.Hour.Sub(first) / time.Hour); i >= 0 && i < len(out) {
			out[i].N = r.N
		}
	}
	return out
}
