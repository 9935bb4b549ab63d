// Package static embeds the dashboard's assets (vendored htmx and the CSS)
// so the binary serves them from wherever it runs.
package static

import "embed"

// Files holds htmx.min.js (htmx 2.0.11), birdcar.css and the console's
// own small scripts (menu.js).
//
//go:embed *.js *.css
var Files embed.FS
