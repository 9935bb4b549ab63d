package web

// registerSimulatorRoutes mounts the phone simulator.
func (s *Server) registerSimulatorRoutes() {}
