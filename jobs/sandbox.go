package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// SandboxSender is the Sender used when no MessageBird key is configured: it
// sends nothing and accepts every message, so the rest of the pipeline (and
// the dashboard) behaves as in production. Safe for concurrent use.
type SandboxSender struct{}

// Send returns a fresh "sandbox-…" id and status "sent".
func (SandboxSender) Send(context.Context, OutboundSMS) (SendResult, error) {
	b := make([]byte, 16)
	rand.Read(b) // never fails since Go 1.24
	return SendResult{ProviderID: "sandbox-" + hex.EncodeToString(b), Status: "sent"}, nil
}
