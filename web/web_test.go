package web

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHandlerServesPage(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<script src="app.js">`},
		{"/app.js", "text/javascript", "Leaflet"},
		{"/app.css", "text/css", ".leaflet-container"},
		{"/countries-50m.json", "application/json", `"type":"Topology"`},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", tc.path, res.StatusCode)
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if !bytes.Contains(body, []byte(tc.contains)) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
	res, err := http.Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", res.StatusCode)
	}
	res, err = http.Get(srv.URL + "/nope.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope.js: status %d, want 404", res.StatusCode)
	}
}

// TestPageIsSelfContained guards "works offline at sea": the page must not
// reference any other host (tile servers, CDNs, web fonts).
func TestPageIsSelfContained(t *testing.T) {
	for _, name := range []string{"index.html", "app.css"} {
		b, err := fs.ReadFile(FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s references %q: the page must work without internet", name, bad)
			}
		}
	}
}

// TestBundleUpToDate rebuilds the page from src/ with the locked npm
// dependencies and checks the committed dist/ is exactly that build.
// It needs node and web/node_modules (`npm ci`, done by scripts/setup.sh test).
func TestBundleUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds the page with node; skipped with -short")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: run scripts/setup.sh test (the page build needs Node.js)")
	}
	if _, err := os.Stat("node_modules/esbuild"); err != nil {
		t.Fatal("web/node_modules missing: run `npm ci` in web/ (scripts/setup.sh test does)")
	}
	out := t.TempDir()
	cmd := exec.Command("node", "build.mjs", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	fresh := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		fresh[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string]bool{}
	err = fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		committed[p] = true
		b, _ := fs.ReadFile(FS(), p)
		if want, ok := fresh[p]; !ok {
			t.Errorf("dist/%s is committed but not built from src/", p)
		} else if !bytes.Equal(b, want) {
			t.Errorf("dist/%s differs from a fresh build: run `make web` and commit web/dist", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range fresh {
		if !committed[p] {
			t.Errorf("build makes %s, missing from the committed dist/: run `make web`", p)
		}
	}
}
