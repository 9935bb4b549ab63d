package components

import (
	"time"

	"birdcar/sql/ride/phone"
)

func formatTime(t time.Time) string {
	return t.Local().Format("2 Jan 2006 15:04:05")
}

// formatPhone writes a phone or proxy number for people
// ("+44 7700 900202"): every number the console shows goes through it.
func formatPhone(number string) string { return phone.Format(number) }
