package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
)

// overviewRows is how many rides and unmatched attempts the overview lists.
const overviewRows = 10

func (s *Server) registerOverviewRoutes() {
	s.app.Get("/", s.handleOverview)
}

func (s *Server) handleOverview(c *fiber.Ctx) error {
	o, err := s.Rides.Overview(c.UserContext(), overviewRows)
	if err != nil {
		return err
	}
	if isHTMX(c) {
		return render(c, http.StatusOK, components.DashboardBody(o)) // its live refresh
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Overview", "overview"), components.Dashboard(o))
}
