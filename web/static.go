package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"birdcar/static"
)

func (s *Server) registerStaticRoutes() {
	s.app.Use("/static", filesystem.New(filesystem.Config{
		Root:   http.FS(static.Files),
		MaxAge: 3600,
	}))
}
