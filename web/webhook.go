package web

import (
	"cmp"

	"github.com/gofiber/fiber/v2"
)

// registerWebhookRoutes mounts MessageBird's webhooks: observed, then
// signature-checked, then admitted under the concurrency cap. Slots are
// taken after the signature check, so forged requests cannot crowd out
// MessageBird's.
func (s *Server) registerWebhookRoutes() {
	s.webhookSlots = make(chan struct{}, cmp.Or(max(s.WebhookConcurrency, 0), defaultWebhookConcurrency))
	s.app.Post("/webhook", s.observeWebhook("sms"), s.verifySignature, s.limitWebhooks, s.handleWebhookSMS)
	s.app.Get("/webhook-voice", s.observeWebhook("voice"), s.verifySignature, s.limitWebhooks, s.handleWebhookVoice)
	s.app.Get("/webhook-status", s.observeWebhook("status"), s.verifySignature, s.limitWebhooks, s.handleWebhookStatus)
	s.app.Post("/webhook-status", s.observeWebhook("status"), s.verifySignature, s.limitWebhooks, s.handleWebhookStatus)
	s.app.All("/webhook", onlyMethods(fiber.MethodPost))
	s.app.All("/webhook-voice", onlyMethods(fiber.MethodGet))
	s.app.All("/webhook-status", onlyMethods(fiber.MethodGet, fiber.MethodPost))
}
