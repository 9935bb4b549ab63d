package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"birdcar/sql/localpg"
)

// TestChaosShort is the CI form of `birdcar-load chaos`: BirdCar built from
// this checkout takes 15 s of SMS webhooks while it is SIGKILLed and
// restarted once and its PostgreSQL restarted once, with MessageBird
// failing some sends and hanging others; every acknowledged SMS must still
// be forwarded. Sends stranded by the kill wait for River's rescuer: 30 s
// stuck (RescueStuckJobsAfter), up to 30 s more until the rescuer runs,
// then their retries, on a machine the other packages' tests keep busy.
// The drain returns as soon as all are forwarded; 120 s only bounds it.
func TestChaosShort(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runChaos(t.Context(), []string{
		"-json", "-rides", "40", "-numbers", "10",
		"-rate", "20", "-duration", "15s", "-grace", "20s", "-drain", "120s",
		"-kill", "0.2", "-pg-restart", "0.5",
		// Enough hangs that the kill strands running sends, few enough
		// failures that no send needs a minute of retries.
		"-fail-rate", "0.1", "-timeout-rate", "0.02",
	}, &out, t.Output())
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	var rep chaosReport
	if jsonErr := json.Unmarshal(out.Bytes(), &rep); jsonErr != nil {
		t.Fatalf("report is not JSON (%v), run: %v\n%s", jsonErr, err, out.String())
	}
	if err != nil {
		t.Fatalf("chaos run: %v\n%s", err, out.String())
	}
	var what []string
	for _, e := range rep.Events {
		what = append(what, e.What)
	}
	if strings.Join(what, ", ") != "sigkill birdcar, restart postgresql" {
		t.Errorf("events = %q, want one kill, then one PostgreSQL restart", what)
	}
	if rep.Sent != 300 || rep.SMS == nil || rep.SMS.Acknowledged != 300 || rep.SMS.Lost != 0 || rep.SMS.Misrouted != 0 {
		t.Fatalf("sent %d, sms %+v: want 300 acknowledged, none lost or misrouted", rep.Sent, rep.SMS)
	}
	t.Logf("%d acknowledged, %d forwarded once, %d duplicated; drained in %.1fs",
		rep.SMS.Acknowledged, rep.SMS.ForwardedOnce, rep.SMS.Duplicated, rep.SMS.DrainMS/1000)
}

func TestParseChaosConfig(t *testing.T) {
	t.Parallel()
	cfg, err := parseChaosConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rate != 50 || cfg.duration != time.Minute || cfg.drain != 2*time.Minute || cfg.failRate != 0.3 ||
		cfg.timeoutRate != 0.05 || cfg.maxAttempts != 25 || cfg.kills.String() != "0.25,0.6" || cfg.pgRestarts.String() != "0.45" {
		t.Errorf("defaults = %+v", cfg)
	}
	cfg, err = parseChaosConfig([]string{"-kill", "", "-pg-restart", "0.1, 0.9", "-env", "A=1", "-env", "B=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.kills) != 0 || cfg.pgRestarts.String() != "0.1,0.9" || strings.Join(cfg.env, " ") != "A=1 B=x=y" {
		t.Errorf("kills %v, pg restarts %v, env %q", cfg.kills, cfg.pgRestarts, cfg.env)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-kill", "0.5,1"}, "between 0 and 1"},
		{[]string{"-pg-restart", "soon"}, "between 0 and 1"},
		{[]string{"-env", "NOVALUE"}, "KEY=VALUE"},
		{[]string{"-rate", "1000", "-duration", "2m"}, "at most 100000 webhooks"},
		{[]string{"-fail-rate", "0.6", "-timeout-rate", "0.4"}, "at most 0.9"},
		{[]string{"-drain", "2h"}, "from 0 to 30m0s"},
		{[]string{"-rides", "0"}, "-rides"},
		{[]string{"-max-attempts", "101"}, "-max-attempts"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		if _, err := parseChaosConfig(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseChaosConfig(%q): err = %v, want one saying %q", tt.args, err, tt.want)
		}
	}
}

func TestChaosReport_Verdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rep  chaosReport
		want string // "" for a pass
	}{
		{"clean", chaosReport{report: report{SMS: &smsReport{Acknowledged: 10, ForwardedOnce: 9, Duplicated: 1}}}, ""},
		{"lost", chaosReport{report: report{SMS: &smsReport{Acknowledged: 10, Lost: 2}}}, "2 of 10 acknowledged SMS lost"},
		{"unacknowledged", chaosReport{Unacknowledged: 3}, "3 webhooks never acknowledged"},
		{"birdcar died", chaosReport{Events: []chaosEvent{{AtS: 4, What: "birdcar exited", Err: "exited on its own"}}}, "birdcar exited at 4.0s"},
		{"interrupted", chaosReport{report: report{Interrupted: true}}, "interrupted"},
	}
	for _, tt := range tests {
		err := tt.rep.verdict()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: verdict = %v, want %q", tt.name, err, tt.want)
		}
	}
}
