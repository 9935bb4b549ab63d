package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/components"
	"birdcar/jobs"
	"birdcar/sql/db"
)

var errMessageNotFound = &Error{Status: http.StatusNotFound, Code: "message_not_found", Message: "There is no such outbound message."}

func (s *Server) registerSendRoutes() {
	s.app.Get("/sends", s.handleSends)
	s.app.Post("/sends/:id/retry", s.handleSendRetry)
	s.app.Post("/sends/:id/cancel", s.handleSendCancel)
}

// sendJobs finds the newest send job of each message, keyed by message id.
func (s *Server) sendJobs(c *fiber.Ctx, tx pgx.Tx, ids []int64) (map[int64]*rivertype.JobRow, error) {
	out := map[int64]*rivertype.JobRow{}
	if len(ids) == 0 {
		return out, nil
	}
	res, err := s.Jobs.JobListTx(c.UserContext(), tx, river.NewJobListParams().Kinds(jobs.SendArgs{}.Kind()).
		Where("(args->>'message_id')::bigint = any(@ids)", river.NamedArgs{"ids": ids}).First(1000))
	if err != nil {
		return nil, fmt.Errorf("list send jobs: %w", err)
	}
	for _, j := range res.Jobs {
		var args jobs.SendArgs
		if err := unmarshalArgs(j, &args); err != nil {
			return nil, err
		}
		if cur, ok := out[args.MessageID]; !ok || j.ID > cur.ID {
			out[args.MessageID] = j
		}
	}
	return out, nil
}

func (s *Server) sendsProps(c *fiber.Ctx, tx pgx.Tx, msg string) (components.SendsProps, error) {
	rows, err := db.New(tx).MessageListTrouble(c.UserContext())
	if err != nil {
		return components.SendsProps{}, fmt.Errorf("list sends: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, m := range rows {
		ids[i] = m.ID
	}
	byMsg, err := s.sendJobs(c, tx, ids)
	if err != nil {
		return components.SendsProps{}, err
	}
	p := components.SendsProps{Message: msg}
	for _, m := range rows {
		r := components.SendRow{ID: m.ID, RideID: m.RideID, To: m.Recipient, Body: m.Body, Status: m.Status, Attempts: m.Attempts}
		if m.LastError != nil {
			r.LastError = *m.LastError
		}
		if j := byMsg[m.ID]; j != nil {
			r.JobState, r.MaxAttempts = string(j.State), j.MaxAttempts
			if j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateScheduled {
				r.NextAttempt = &j.ScheduledAt
			}
		}
		p.Rows = append(p.Rows, r)
	}
	return p, nil
}

func (s *Server) handleSends(c *fiber.Ctx) error {
	return pgx.BeginFunc(c.UserContext(), s.DB, func(tx pgx.Tx) error {
		p, err := s.sendsProps(c, tx, "")
		if err != nil {
			return err
		}
		return renderPage(c, http.StatusOK, s.layout(c, "Sends", "sends"), components.Sends(p))
	})
}

// handleSendRetry makes River try a waiting send now, or queues a failed
// one again with a new job.
func (s *Server) handleSendRetry(c *fiber.Ctx) error {
	return s.sendAction(c, func(tx pgx.Tx, m db.Message, job *rivertype.JobRow) (string, error) {
		ctx := c.UserContext()
		if m.Status != "failed" && job != nil {
			if _, err := s.Jobs.JobRetryTx(ctx, tx, job.ID); err != nil {
				return "", fmt.Errorf("retry job: %w", err)
			}
			return fmt.Sprintf("Message %d will be tried again now.", m.ID), nil
		}
		if _, err := db.New(tx).MessageRequeue(ctx, m.ID); errors.Is(err, pgx.ErrNoRows) {
			return "", &Error{Status: http.StatusConflict, Code: "not_retryable", Message: "This message is no longer waiting or failed."}
		} else if err != nil {
			return "", err
		}
		if _, err := s.Jobs.InsertTx(ctx, tx, jobs.SendArgs{MessageID: m.ID}, nil); err != nil {
			return "", fmt.Errorf("enqueue send: %w", err)
		}
		return fmt.Sprintf("Message %d is queued again.", m.ID), nil
	})
}

// handleSendCancel stops retrying a send and marks it failed.
func (s *Server) handleSendCancel(c *fiber.Ctx) error {
	return s.sendAction(c, func(tx pgx.Tx, m db.Message, job *rivertype.JobRow) (string, error) {
		ctx := c.UserContext()
		if job != nil {
			if _, err := s.Jobs.JobCancelTx(ctx, tx, job.ID); err != nil {
				return "", fmt.Errorf("cancel job: %w", err)
			}
		}
		reason := "cancelled by an operator"
		if m.LastError != nil {
			reason += " (last error: " + *m.LastError + ")"
		}
		if err := db.New(tx).MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: m.ID, LastError: &reason}); err != nil {
			return "", err
		}
		return fmt.Sprintf("Message %d will not be sent.", m.ID), nil
	})
}

// sendAction loads a message and its job, applies act and re-renders the list.
func (s *Server) sendAction(c *fiber.Ctx, act func(pgx.Tx, db.Message, *rivertype.JobRow) (string, error)) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errMessageNotFound
	}
	return pgx.BeginFunc(c.UserContext(), s.DB, func(tx pgx.Tx) error {
		m, err := db.New(tx).MessageGet(c.UserContext(), id)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && m.Direction != "outbound") {
			return errMessageNotFound
		} else if err != nil {
			return err
		}
		byMsg, err := s.sendJobs(c, tx, []int64{id})
		if err != nil {
			return err
		}
		msg, err := act(tx, m, byMsg[id])
		if err != nil {
			return err
		}
		p, err := s.sendsProps(c, tx, msg)
		if err != nil {
			return err
		}
		if !isHTMX(c) {
			return c.Redirect("/sends", http.StatusSeeOther)
		}
		return render(c, http.StatusOK, components.SendsTable(p))
	})
}

// unmarshalArgs decodes a job's arguments.
func unmarshalArgs(j *rivertype.JobRow, v any) error {
	if err := json.Unmarshal(j.EncodedArgs, v); err != nil {
		return fmt.Errorf("decode job %d args: %w", j.ID, err)
	}
	return nil
}
