// Package static embeds the dashboard's assets (vendored htmx and the CSS)
// so the binary serves them from wherever it runs.
package static

import "embed"

// Files holds htmx.min.js (htmx 2.0.11), htmx-ext-sse.min.js (htmx's SSE
// extension 2.2.4, from npm's htmx-ext-sse), the console's own small
// scripts (menu.js, console.js) and birdcar.css.
//
//go:embed *.js *.css
var Files embed.FS
