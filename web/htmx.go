package web

import (
	"context"
	"io"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"birdcar/components"
)

// htmx request and response headers used by the dashboard.
const (
	hxRequest = "HX-Request"
	hxTrigger = "HX-Trigger"
	hxPushURL = "HX-Push-Url"
)

// isHTMX reports whether htmx sent the request, so it wants a fragment.
func isHTMX(c *fiber.Ctx) bool { return c.Get(hxRequest) == "true" }

// render writes a component as HTML with the given status.
func render(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Status(status).Type("html", "utf-8")
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

// renderPage writes body inside the layout for a normal request, and body
// alone for htmx.
func renderPage(c *fiber.Ctx, status int, layout components.LayoutProps, body templ.Component) error {
	if isHTMX(c) {
		return render(c, status, body)
	}
	return render(c, status, templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return components.Layout(layout).Render(templ.WithChildren(ctx, body), w)
	}))
}

// layout is the shell props of a console page. The warning about unsigned
// webhooks is for the signed-in operators only: the login page and a
// stranger's error pages would tell anyone where to forge.
func (s *Server) layout(c *fiber.Ctx, title, active string) components.LayoutProps {
	sess := sessionOf(c)
	return components.LayoutProps{Title: title, Active: active, Sandbox: s.Sandbox, User: sess.Name, Role: string(sess.Role),
		UnsignedWebhooks: s.UnsignedWebhooks && sess.Name != ""}
}
