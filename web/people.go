package web

// registerPeopleRoutes mounts the customers and drivers pages.
func (s *Server) registerPeopleRoutes() {}
