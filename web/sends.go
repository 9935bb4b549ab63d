package web

// registerSendRoutes mounts the failed and retrying sends.
func (s *Server) registerSendRoutes() {}
