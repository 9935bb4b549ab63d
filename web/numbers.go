package web

// registerNumberRoutes mounts the number pool pages.
func (s *Server) registerNumberRoutes() {}
