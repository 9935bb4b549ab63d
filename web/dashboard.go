package web

import (
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
)

// recentRides is how many rides the overview lists.
const recentRides = 50

func (s *Server) registerDashboardRoutes() {
	s.app.Get("/", s.handleDashboard)
}

func (s *Server) handleDashboard(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var p components.DashboardProps
	var err error
	if p.Customers, err = s.queries.CustomerList(ctx); err != nil {
		return fmt.Errorf("list customers: %w", err)
	}
	if p.Drivers, err = s.queries.DriverList(ctx); err != nil {
		return fmt.Errorf("list drivers: %w", err)
	}
	if p.Numbers, err = s.queries.ProxyNumberList(ctx); err != nil {
		return fmt.Errorf("list numbers: %w", err)
	}
	if p.Rides, err = s.queries.RideListRecent(ctx, recentRides); err != nil {
		return fmt.Errorf("list rides: %w", err)
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Overview", "overview"), components.Dashboard(p))
}
