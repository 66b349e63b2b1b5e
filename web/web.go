// Package web is Keelson's map page: live vessels on an offline Natural
// Earth basemap, built from the npm project in this directory (src/, locked
// by package-lock.json) into dist/, which is committed and embedded here so
// that `go build` needs no Node.js. The API server serves Handler at "/".
//
// Rebuild after editing src/: `make web` (npm ci && npm run build).
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed dist
var dist embed.FS

// FS returns the built page: index.html, app.js, app.css and the basemap.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // cannot happen: dist is embedded at build time
	}
	return sub
}

// Handler serves the page. Mount it at "/" (or under a prefix with
// http.StripPrefix: every URL the page uses is relative). The page calls the
// /v1 API of the same origin with the key from its URL fragment (#key=...).
func Handler() http.Handler {
	files := http.FileServerFS(FS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Everything the page needs is served from here: no tile server, no CDN.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
		if r.URL.Path == "/" || strings.HasSuffix(r.URL.Path, ".html") {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "public, max-age=3600")
		}
		files.ServeHTTP(w, r)
	})
}
