package components

import (
	"net/url"
	"time"
)

func formatTime(t time.Time) string {
	return t.Local().Format("2 Jan 2006 15:04:05")
}

func urlEscape(s string) string { return url.QueryEscape(s) }
