package web

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/jobs/messagebird"
	"birdcar/sql/ride"
	"birdcar/sql/ride/phone"
)

// strangerPhone is the simulator's unknown caller.
const strangerPhone = "+31699999999"

// simulatorRides is how many routable rides the simulator offers.
const simulatorRides = 100

func (s *Server) registerSimulatorRoutes() {
	s.app.Get("/simulator", s.handleSimulator)
	s.app.Post("/simulator", s.handleSimulate)
	s.app.Get("/simulator/outbox", s.handleOutbox)
}

func (s *Server) simulatorProps(c *fiber.Ctx, values map[string]string) (components.SimulatorProps, error) {
	ctx := c.UserContext()
	rides, err := s.Rides.ListRides(ctx, ride.RideFilter{State: "routable", Limit: simulatorRides})
	if err != nil {
		return components.SimulatorProps{}, err
	}
	outbox, err := s.Rides.Outbox(ctx)
	if err != nil {
		return components.SimulatorProps{}, err
	}
	if values == nil {
		values = map[string]string{"as": string(ride.RoleCustomer)}
	}
	return components.SimulatorProps{Rides: rides, Values: values, Outbox: outbox, Sandbox: s.Sandbox}, nil
}

func (s *Server) handleSimulator(c *fiber.Ctx) error {
	p, err := s.simulatorProps(c, nil)
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Simulator", "simulator"), components.Simulator(p))
}

func (s *Server) handleOutbox(c *fiber.Ctx) error {
	outbox, err := s.Rides.Outbox(c.UserContext())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.Outbox(outbox))
}

// handleSimulate plays a phone: it calls BirdCar's own webhooks through
// the Fiber app the way MessageBird would (signed when a signing key is
// set) and shows the answer and what BirdCar sent.
func (s *Server) handleSimulate(c *fiber.Ctx) error {
	values := map[string]string{"ride_id": c.FormValue("ride_id"), "as": c.FormValue("as"), "text": c.FormValue("text")}
	p, err := s.simulatorProps(c, values)
	if err != nil {
		return err
	}
	result, err := s.simulate(c, values, c.FormValue("action"))
	if e := ride.AsError(err); e != nil {
		p.Error = e.Message
		return render(c, statusOf[e.Code.Kind()], components.SimulatorForm(p))
	} else if err != nil {
		return err
	}
	p.Result = result
	return render(c, http.StatusOK, components.SimulatorForm(p))
}

func (s *Server) simulate(c *fiber.Ctx, values map[string]string, action string) (*components.SimulatorResult, error) {
	ctx := c.UserContext()
	id, err := strconv.ParseInt(values["ride_id"], 10, 64)
	if err != nil {
		return nil, ride.InvalidField("ride_id", "Choose a ride.")
	}
	r, err := s.Rides.Ride(ctx, id)
	if ride.ErrorCode(err) == ride.CodeRideNotFound {
		return nil, ride.InvalidField("ride_id", "That ride no longer exists.")
	} else if err != nil {
		return nil, err
	}
	from := map[string]string{"customer": r.CustomerPhone, "driver": r.DriverPhone, "stranger": strangerPhone}[values["as"]]
	if from == "" {
		return nil, ride.InvalidField("as", "Choose who is calling or texting.")
	}
	var req *http.Request
	var body []byte
	callID := "sim-" + rand.Text()[:12]
	switch action {
	case "sms":
		text := strings.TrimSpace(values["text"])
		if text == "" {
			return nil, ride.InvalidField("text", "Type the text to send.")
		}
		body = []byte(url.Values{"id": {callID}, "originator": {phone.Digits(from)}, "recipient": {phone.Digits(r.ProxyNumber)},
			"payload": {text}, "createdDatetime": {s.Rides.Now().Format(time.RFC3339)}}.Encode())
		req, err = http.NewRequestWithContext(ctx, "POST", "/webhook", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case "call":
		q := url.Values{"source": {phone.Digits(from)}, "destination": {phone.Digits(r.ProxyNumber)}, "callID": {callID}}
		req, err = http.NewRequestWithContext(ctx, "GET", "/webhook-voice?"+q.Encode(), nil)
	default:
		return nil, ride.InvalidField("action", "Choose to send an SMS or to place a call.")
	}
	if err != nil {
		return nil, fmt.Errorf("build webhook request: %w", err)
	}
	if s.verifier != nil {
		req.Header.Set(messagebird.SignatureHeader, messagebird.Sign(s.SigningKey, s.PublicURL+req.URL.RequestURI(), body, time.Now()))
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		return nil, fmt.Errorf("call own webhook: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	res := &components.SimulatorResult{
		Request: req.Method + " " + req.URL.RequestURI() + "\n" + string(body),
		Status:  resp.StatusCode,
		Answer:  string(answer),
	}
	if action == "call" {
		res.Transfer = messagebird.Transferred(answer)
		return res, nil
	}
	res.Forward, err = s.Rides.ForwardOf(ctx, callID)
	return res, err
}
