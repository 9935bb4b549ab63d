package web

import (
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/components"
	"birdcar/sql/ride/phone"
)

// strangerPhone is the simulator's unknown caller.
const strangerPhone = "+31699999999"

func (s *Server) registerSimulatorRoutes() {
	s.app.Get("/simulator", s.handleSimulator)
	s.app.Post("/simulator", s.handleSimulate)
	s.app.Get("/simulator/outbox", s.handleOutbox)
}

func (s *Server) simulatorProps(c *fiber.Ctx, values map[string]string) (components.SimulatorProps, error) {
	ctx := c.UserContext()
	rides, err := s.queries.RideListRoutable(ctx, s.now())
	if err != nil {
		return components.SimulatorProps{}, fmt.Errorf("list rides: %w", err)
	}
	outbox, err := s.queries.MessageListOutbox(ctx)
	if err != nil {
		return components.SimulatorProps{}, fmt.Errorf("list outbox: %w", err)
	}
	if values == nil {
		values = map[string]string{"as": "customer"}
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
	outbox, err := s.queries.MessageListOutbox(c.UserContext())
	if err != nil {
		return fmt.Errorf("list outbox: %w", err)
	}
	return render(c, http.StatusOK, components.Outbox(outbox))
}

// handleSimulate plays a phone: it calls BirdCar's own webhooks the way
// MessageBird would (signed when a signing key is set) and shows the answer
// and what BirdCar sent.
func (s *Server) handleSimulate(c *fiber.Ctx) error {
	values := map[string]string{"ride_id": c.FormValue("ride_id"), "as": c.FormValue("as"), "text": c.FormValue("text")}
	p, err := s.simulatorProps(c, values)
	if err != nil {
		return err
	}
	result, err := s.simulate(c, values, c.FormValue("action"))
	var pub *Error
	switch {
	case errors.As(err, &pub):
		p.Error = pub.Message
		return render(c, pub.Status, components.SimulatorForm(p))
	case err != nil:
		return err
	}
	p.Result = result
	return render(c, http.StatusOK, components.SimulatorForm(p))
}

func (s *Server) simulate(c *fiber.Ctx, values map[string]string, action string) (*components.SimulatorResult, error) {
	ctx := c.UserContext()
	id, err := strconv.ParseInt(values["ride_id"], 10, 64)
	if err != nil {
		return nil, invalid("ride_id", "Choose a ride.")
	}
	ride, err := s.queries.RideGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid("ride_id", "That ride no longer exists.")
	} else if err != nil {
		return nil, fmt.Errorf("get ride: %w", err)
	}
	from := map[string]string{"customer": ride.CustomerPhone, "driver": ride.DriverPhone, "stranger": strangerPhone}[values["as"]]
	if from == "" {
		return nil, invalid("as", "Choose who is calling or texting.")
	}
	var req *http.Request
	callID := "sim-" + rand.Text()[:12]
	switch action {
	case "sms":
		text := strings.TrimSpace(values["text"])
		if text == "" {
			return nil, invalid("text", "Type the text to send.")
		}
		form := url.Values{"id": {callID}, "originator": {phone.Digits(from)}, "recipient": {phone.Digits(ride.ProxyNumber)},
			"payload": {text}, "createdDatetime": {s.now().Format(time.RFC3339)}}
		req = httptest.NewRequest("POST", "/webhook", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "call":
		q := url.Values{"source": {phone.Digits(from)}, "destination": {phone.Digits(ride.ProxyNumber)}, "callID": {callID}}
		req = httptest.NewRequest("GET", "/webhook-voice?"+q.Encode(), nil)
	default:
		return nil, invalid("action", "Choose to send an SMS or to place a call.")
	}
	body := []byte{}
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	if s.SigningKey != "" {
		req.Header.Set(signatureHeader, signWebhook(s.SigningKey, s.PublicURL+req.URL.RequestURI(), body, time.Now()))
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
		var tr transferXML
		if xml.Unmarshal(answer, &tr) == nil && tr.Destination != "" {
			res.Transfer = "+" + tr.Destination
		}
		return res, nil
	}
	fwd, err := s.queries.MessageFindForward(ctx, &callID)
	if err == nil {
		res.Forward = &fwd
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("find forward: %w", err)
	}
	return res, nil
}
