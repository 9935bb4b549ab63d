package web

// registerRideRoutes mounts the rides pages.
func (s *Server) registerRideRoutes() {}
