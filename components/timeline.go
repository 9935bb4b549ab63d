package components

import (
	"strings"
	"time"

	"birdcar/sql/ride"
)

// timelineItem is how the timeline shows one event.
type timelineItem struct {
	At     time.Time
	Kind   string // in, out, call, unmatched: the item's style
	Title  string
	Body   string
	Status string
	Detail string
}

// timelineItems words a ride's events for the timeline.
func timelineItems(events []ride.Event) []timelineItem {
	items := make([]timelineItem, len(events))
	for i, ev := range events {
		it := timelineItem{At: ev.At}
		switch m, k := ev.Message, ev.Call; {
		case ev.Audit != nil:
			it.Kind, it.Title = "audit", auditTitle(*ev.Audit)
		case m != nil:
			it.Body, it.Status = m.Body, string(m.Status)
			switch {
			case m.Kind == ride.KindNotification:
				it.Kind, it.Title = "out", "Notification to "+who(ev.To)
			case m.Kind == ride.KindForward:
				it.Kind, it.Title = "out", "Forwarded to "+who(ev.To)
			case !ev.Routed:
				it.Kind, it.Title = "unmatched", "Unrouted SMS from "+who(ev.From)
			default:
				it.Kind, it.Title, it.Status = "in", "SMS from "+who(ev.From), ""
			}
			if m.LastError != nil && m.Status != ride.StatusSent && m.Status != ride.StatusDelivered {
				it.Detail = *m.LastError
			}
		case k != nil && k.Outcome == ride.CallTransferred:
			it.Kind, it.Title, it.Status = "call", "Call from "+who(ev.From)+" put through to "+who(ev.To), string(k.Outcome)
		case k != nil:
			it.Kind, it.Title, it.Status = "unmatched", "Call from "+who(ev.From)+" refused: no valid route", string(k.Outcome)
		}
		items[i] = it
	}
	return items
}

// who names a party: one of the ride's people by name, anyone else by
// number.
func who(p ride.Party) string {
	if p.Role != "" {
		return p.Name
	}
	return formatPhone(p.Phone)
}

// auditTitle says what an operator, an integrator or BirdCar did to a
// ride, and who.
func auditTitle(e ride.AuditEntry) string {
	by := " by " + e.Actor.Name
	switch e.Actor.Kind {
	case ride.ActorAPI:
		by = " through the API (" + e.Actor.Name + ")"
	case ride.ActorSystem:
		by = " by BirdCar"
	}
	switch e.Action {
	case ride.AuditRideCreate:
		return "Created" + by
	case ride.AuditRideEnd:
		if strings.HasPrefix(e.Detail, string(ride.RideCancelled)) {
			return "Cancelled" + by
		}
		return "Completed" + by
	case ride.AuditRideDisconnect:
		return "Disconnected now" + by
	case ride.AuditRideExtend:
		return "Grace period extended (" + e.Detail + ")" + by
	case ride.AuditSendRetry:
		return "Send retried" + by
	case ride.AuditSendCancel:
		return "Send cancelled" + by
	}
	return e.Action + by
}
