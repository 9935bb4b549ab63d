package messagebird

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"birdcar/sql/ride"
)

// Sandbox is the ride.Sender used when no MessageBird key is configured:
// it sends nothing and accepts every message, so the rest of the pipeline
// (and the console) behaves as in production. Safe for concurrent use.
type Sandbox struct{}

// Send returns a fresh "sandbox-…" id and status "sent".
func (Sandbox) Send(context.Context, ride.OutboundSMS) (ride.SendResult, error) {
	b := make([]byte, 16)
	rand.Read(b) // never fails since Go 1.24
	return ride.SendResult{ProviderID: "sandbox-" + hex.EncodeToString(b), Status: "sent"}, nil
}
