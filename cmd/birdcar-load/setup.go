package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// setupConcurrency is how many API requests the setup has in flight.
const setupConcurrency = 8

// maxBody bounds what the tool reads of any answer.
const maxBody = 1 << 20

// phoneAttempts is how often a person is tried with another number when
// an earlier run already used it.
const phoneAttempts = 5

// ride is one ride the setup created, its numbers as MessageBird digits.
type ride struct {
	proxy    string
	customer string
	driver   string
}

// setup fills the proxy pool and creates the rides through the JSON API.
// It returns the rides only when all were created.
func (l *loader) setup(ctx context.Context) ([]ride, phaseReport, error) {
	rec := newRecorder(l.cfg.numbers + 3*l.cfg.rides)
	start := time.Now()
	rides := make([]ride, l.cfg.rides)
	err := l.fillPool(ctx, rec)
	if err == nil {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(setupConcurrency)
		for i := range rides {
			if gctx.Err() != nil {
				break
			}
			g.Go(func() error {
				var err error
				rides[i], err = l.createRide(gctx, rec, i)
				return err
			})
		}
		err = g.Wait()
	}
	phase := rec.report("setup", time.Since(start), 0)
	if err != nil {
		return nil, phase, err
	}
	return rides, phase, nil
}

// fillPool adds the run's pool numbers. They are the same every run, so
// the pool does not grow with reruns and a duplicate is no failure.
func (l *loader) fillPool(ctx context.Context, rec *recorder) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(setupConcurrency)
	for i := range l.cfg.numbers {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			in := struct {
				Number  string `json:"number"`
				Country string `json:"country"`
			}{fmt.Sprintf("+3197099%06d", i), "NL"}
			err := l.post(gctx, rec, "/api/v1/numbers", in, nil)
			if isProblem(err, "duplicate_number") {
				return nil
			}
			return err
		})
	}
	return g.Wait()
}

// createRide creates a fresh customer and driver and a ride between them.
func (l *loader) createRide(ctx context.Context, rec *recorder, i int) (ride, error) {
	customerID, customer, err := l.createPerson(ctx, rec, "customers", 2*i)
	if err != nil {
		return ride{}, err
	}
	driverID, driver, err := l.createPerson(ctx, rec, "drivers", 2*i+1)
	if err != nil {
		return ride{}, err
	}
	in := struct {
		CustomerID  int64  `json:"customer_id"`
		DriverID    int64  `json:"driver_id"`
		Start       string `json:"start"`
		Destination string `json:"destination"`
		PickupAt    string `json:"pickup_at"`
	}{
		CustomerID:  customerID,
		DriverID:    driverID,
		Start:       fmt.Sprintf("Load street %d", i),
		Destination: fmt.Sprintf("Load avenue %d", i),
		PickupAt:    time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}
	var out struct {
		ID          int64  `json:"id"`
		ProxyNumber string `json:"proxy_number"`
	}
	err = l.post(ctx, rec, "/api/v1/rides", in, &out)
	switch {
	case isProblem(err, "pool_exhausted"):
		return ride{}, fmt.Errorf("%w (raise -numbers)", err)
	case err != nil:
		return ride{}, err
	case out.ProxyNumber == "":
		return ride{}, fmt.Errorf("ride %d was created without a proxy_number", out.ID)
	}
	return ride{proxy: digits(out.ProxyNumber), customer: customer, driver: driver}, nil
}

// createPerson creates the k-th person of the run as a customer or driver
// and returns its id and phone digits.
func (l *loader) createPerson(ctx context.Context, rec *recorder, kind string, k int) (int64, string, error) {
	number := fmt.Sprintf("+3161%03d%04d", l.phonePrefix, k)
	for attempt := 1; ; attempt++ {
		in := struct {
			Name  string `json:"name"`
			Phone string `json:"phone"`
		}{fmt.Sprintf("Load %s %s-%d", kind, l.runID, k), number}
		var out struct {
			ID int64 `json:"id"`
		}
		err := l.post(ctx, rec, "/api/v1/"+kind, in, &out)
		if isProblem(err, "duplicate_phone") && attempt < phoneAttempts {
			// An earlier run drew the same prefix.
			number = fmt.Sprintf("+3161%07d", rand.IntN(1e7))
			continue
		}
		if err != nil {
			return 0, "", err
		}
		return out.ID, digits(number), nil
	}
}

// problem is the part of BirdCar's application/problem+json body the tool
// reads.
type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// apiError is a non-2xx answer from BirdCar's API.
type apiError struct {
	path   string
	status int
	problem
}

func (e *apiError) Error() string {
	return fmt.Sprintf("POST %s: %d %s: %s", e.path, e.status, e.Code, e.Detail)
}

func isProblem(err error, code string) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == code
}

// post sends in as JSON to BirdCar's API and decodes a 2xx answer into out
// (unless nil); any other answer is an *apiError.
func (l *loader) post(ctx context.Context, rec *recorder, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.cfg.target.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.cfg.token)
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		rec.fail(err)
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	d := time.Since(start)
	if err != nil {
		rec.fail(err)
		return fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{path: path, status: resp.StatusCode}
		// A body that is no problem document leaves the code empty; the
		// status still tells what happened.
		_ = json.Unmarshal(raw, &e.problem)
		rec.record(d, resp.StatusCode, e.Code)
		return e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			rec.record(d, resp.StatusCode, "bad_json")
			return fmt.Errorf("POST %s: decode answer: %w", path, err)
		}
	}
	rec.record(d, resp.StatusCode, "")
	return nil
}
