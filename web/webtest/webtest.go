// Package webtest drives the map page in a real browser (Debian's chromium,
// headless, through the DevTools protocol with chromedp) for end-to-end
// tests: the page loads, shows vessels, and a click opens a vessel's card
// and track. cmd/keelson's demo test uses it against `keelson demo`.
package webtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// ErrNoChromium is returned when no Chromium binary is found.
var ErrNoChromium = errors.New("webtest: chromium not found (Debian: apt-get install chromium; scripts/setup.sh test)")

// ErrPage is wrapped by every failed check of the page.
var ErrPage = errors.New("webtest: map page check failed")

// FindChromium returns the path of a Chromium binary: $KEELSON_CHROMIUM, or
// chromium / chromium-browser / google-chrome on PATH.
func FindChromium() (string, error) {
	if p := os.Getenv("KEELSON_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Browser is a headless Chromium with a fresh profile.
type Browser struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// NewBrowser starts headless Chromium (window width x height) with a fresh
// profile in profileDir. It never talks to the network by itself. Close it.
func NewBrowser(ctx context.Context, profileDir string, width, height int) (*Browser, error) {
	path, err := FindChromium()
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profileDir),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("password-store", "basic"),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// Start the browser now, so that a missing or broken binary fails here.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		bcancel()
		acancel()
		return nil, fmt.Errorf("webtest: start %s: %w", path, err)
	}
	return &Browser{ctx: bctx, cancel: func() { bcancel(); acancel() }}, nil
}

// Close ends the browser.
func (b *Browser) Close() { b.cancel() }

// Context is the chromedp context of the browser's tab.
func (b *Browser) Context() context.Context { return b.ctx }

// MapResult is what CheckMap saw.
type MapResult struct {
	Vessels     int    // vessel markers on the map
	Status      string // the page's status line
	MMSI        string // the vessel clicked
	Card        string // text of its card
	TrackPoints int    // points of its track
	Screenshot  []byte // PNG of the page with the card and track open

	ReplayVessels int // vessels shown with the time slider 15 s back
	ExportBytes   int // size of the CSV export of the view
	SearchHits    int // vessels listed by the area search of the view
}

// CheckMap opens the map page at pageURL (with its #key= fragment), waits
// until it shows vessels, clicks one where it is visible, and waits for its
// card and its track. It takes a PNG screenshot at the end. Each wait gives
// up after timeout.
func (b *Browser) CheckMap(pageURL string, timeout time.Duration) (MapResult, error) {
	var r MapResult
	ctx := b.ctx
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		return r, fmt.Errorf("%w: navigate: %v", ErrPage, err)
	}
	n, err := poll[int](ctx, `document.body.dataset.ready === "1" && Number(document.body.dataset.vessels || 0)`, timeout)
	if err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Text(`#status`, chromedp.NodeVisible))
		return r, fmt.Errorf("%w: no vessels shown within %s (status: %q): %v", ErrPage, timeout, st, err)
	}
	r.Vessels = n
	// Click markers that are not under a panel (elementFromPoint hits
	// them), named moving vessels first, until one has a track of two
	// points or more: a vessel heard once has a card but no line.
	type target struct {
		MMSI string  `json:"mmsi"`
		X    float64 `json:"x"`
		Y    float64 `json:"y"`
	}
	tried := map[string]bool{}
	for i := 0; i < 8; i++ {
		// Find the marker afresh each time: live refreshes move markers.
		skip, _ := json.Marshal(tried)
		t, err := chromedp.Run(ctx, chromedp.Evaluate[*target](`((tried) => {
			let moving = null, still = null;
			for (const el of document.querySelectorAll('.vessel[data-mmsi]')) {
				if (tried[el.dataset.mmsi]) continue;
				const r = el.getBoundingClientRect();
				const x = r.left + r.width / 2, y = r.top + r.height / 2;
				const hit = document.elementFromPoint(x, y);
				if (!hit || !el.contains(hit)) continue;
				const c = { mmsi: el.dataset.mmsi, x, y };
				if (el.querySelector('line')) {
					if (el.dataset.named) return c;
					moving = moving || c;
				}
				still = still || c;
			}
			return moving || still;
		})(`+string(skip)+`)`))
		if err != nil || t == nil {
			if r.MMSI != "" {
				break
			}
			return r, fmt.Errorf("%w: no clickable vessel marker (%v)", ErrPage, err)
		}
		tried[t.MMSI] = true
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.trackPoints`),
			chromedp.MouseClickXY(t.X, t.Y)); err != nil {
			return r, fmt.Errorf("%w: click vessel %s: %v", ErrPage, t.MMSI, err)
		}
		// The card shows the vessel the click hit (a neighbour may lie on top).
		sel, err := poll[string](ctx, `!document.getElementById("card").hidden && document.body.dataset.trackPoints !== undefined && document.getElementById("card").dataset.mmsi`, timeout)
		if err != nil {
			return r, fmt.Errorf("%w: card and track of %s not shown within %s: %v", ErrPage, t.MMSI, timeout, err)
		}
		tried[sel] = true
		r.MMSI = sel
		r.TrackPoints, _ = chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.body.dataset.trackPoints)`))
		if r.TrackPoints >= 2 {
			break
		}
	}
	r.Card, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("card").innerText`))
	r.Status, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	// Let the track and markers paint before the picture.
	_ = chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return r, fmt.Errorf("%w: screenshot: %v", ErrPage, err)
	}
	r.Screenshot = png

	// The time slider: 15 s back shows the vessels of then.
	r.ReplayVessels, err = chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
		document.body.dataset.frame = "";
		const s = document.getElementById("slider");
		s.value = "-0.25";
		s.dispatchEvent(new Event("input", { bubbles: true }));
		return 0;
	})()`))
	if err == nil {
		r.ReplayVessels, err = poll[int](ctx, `(document.body.dataset.frame || "live") !== "live" && Number(document.body.dataset.vessels) + 1`, timeout)
		r.ReplayVessels--
	}
	if err != nil {
		return r, fmt.Errorf("%w: replay 15 s back: %v", ErrPage, err)
	}
	// The export button: a CSV of the view over the slider's window.
	if err := chromedp.Do(ctx, chromedp.Click(`#exportbtn`, chromedp.NodeVisible)); err != nil {
		return r, fmt.Errorf("%w: export: %v", ErrPage, err)
	}
	r.ExportBytes, err = poll[int](ctx, `Number(document.body.dataset.exportBytes || 0)`, timeout)
	if err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		return r, fmt.Errorf("%w: export produced nothing within %s (status %q): %v", ErrPage, timeout, st, err)
	}
	// The area search: fill in the view's box, search, count the list.
	if err := chromedp.Do(ctx, chromedp.Click(`#bboxview`, chromedp.NodeVisible),
		chromedp.Click(`#bboxform button[type=submit]`, chromedp.NodeVisible)); err != nil {
		return r, fmt.Errorf("%w: area search: %v", ErrPage, err)
	}
	r.SearchHits, err = poll[int](ctx, `document.querySelectorAll("#results li a").length`, timeout)
	if err != nil {
		txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("results").innerText`))
		return r, fmt.Errorf("%w: area search listed nothing within %s (%q): %v", ErrPage, timeout, txt, err)
	}
	// No script error and no Content-Security-Policy violation on the way.
	if msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[document.body.dataset.jsError, document.body.dataset.cspViolation].filter(Boolean).join("; ")`)); msg != "" {
		return r, fmt.Errorf("%w: the page reported: %s", ErrPage, msg)
	}
	return r, nil
}

// CheckKeyPrompt opens the page at pageURL without a key (a fresh profile
// has none stored) and checks that it asks for one, that a wrong key is
// refused, and that the map goes live once key is pasted. It leaves nothing
// stored.
func (b *Browser) CheckKeyPrompt(pageURL, key string, timeout time.Duration) error {
	ctx := b.ctx
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`),
		chromedp.Reload()); err != nil {
		return fmt.Errorf("%w: navigate: %v", ErrPage, err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#keybox`)); err != nil {
		return fmt.Errorf("%w: no key prompt without a key: %v", ErrPage, err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#keyinput`, "kls_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
		chromedp.Click(`#keyform button[type=submit]`)); err != nil {
		return fmt.Errorf("%w: enter a key: %v", ErrPage, err)
	}
	if _, err := poll[bool](ctx, `/refused|needed/.test(document.getElementById("status").textContent) && !document.getElementById("keybox").hidden`, timeout); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		return fmt.Errorf("%w: a wrong key was not refused (status %q): %v", ErrPage, st, err)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("keyinput").value = ""`), chromedp.SendKeys(`#keyinput`, key),
		chromedp.Click(`#keyform button[type=submit]`)); err != nil {
		return fmt.Errorf("%w: enter the key: %v", ErrPage, err)
	}
	if _, err := poll[int](ctx, `document.body.dataset.ready === "1" && document.getElementById("keybox").hidden && Number(document.body.dataset.vessels || 0)`, timeout); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		return fmt.Errorf("%w: no vessels after pasting the key (status %q): %v", ErrPage, st, err)
	}
	// Leave the page, so that the next Navigate loads it afresh even when
	// only the URL fragment differs.
	return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Navigate("about:blank"))
}

// OwnShipResult is what CheckOwnShip saw.
type OwnShipResult struct {
	OwnShips    int    // own-ship markers on the map
	Card        string // text of the own ship's card
	TrackPoints int    // points of its track
}

// CheckOwnShip opens the map page at pageURL (with its #key= fragment and a
// view, ?lat=&lon=&z=, that holds the own ship), waits for the marker of
// the own ship stored without an MMSI whose vessel id is id (drawn in the
// own-ship style), clicks it, and waits for its card (from
// /v1/vessels/{id}) and its track. Each wait gives up after timeout.
func (b *Browser) CheckOwnShip(pageURL, id string, timeout time.Duration) (OwnShipResult, error) {
	var r OwnShipResult
	ctx := b.ctx
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		return r, fmt.Errorf("%w: navigate: %v", ErrPage, err)
	}
	type point struct{ X, Y float64 }
	at, err := poll[*point](ctx, `(() => {
		if (document.body.dataset.ready !== "1") return null;
		const el = document.querySelector('.vessel.own[data-vessel=' + JSON.stringify(`+jsString(id)+`) + ']');
		if (!el) return null;
		const r = el.getBoundingClientRect();
		const x = r.left + r.width / 2, y = r.top + r.height / 2;
		const hit = document.elementFromPoint(x, y);
		return hit && el.contains(hit) ? { X: x, Y: y } : null;
	})()`, timeout)
	if err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		return r, fmt.Errorf("%w: no clickable own-ship marker %q within %s (status %q): %v", ErrPage, id, timeout, st, err)
	}
	r.OwnShips, _ = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".vessel.own").length`))
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.trackPoints`),
		chromedp.MouseClickXY(at.X, at.Y)); err != nil {
		return r, fmt.Errorf("%w: click own ship %s: %v", ErrPage, id, err)
	}
	r.TrackPoints, err = poll[int](ctx, `!document.getElementById("card").hidden && document.getElementById("card").dataset.vessel === `+jsString(id)+
		` && document.body.dataset.trackPoints !== undefined && Number(document.body.dataset.trackPoints) + 1`, timeout)
	if err != nil {
		return r, fmt.Errorf("%w: card and track of own ship %s not shown within %s: %v", ErrPage, id, timeout, err)
	}
	r.TrackPoints--
	r.Card, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("card").innerText`))
	if msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[document.body.dataset.jsError, document.body.dataset.cspViolation].filter(Boolean).join("; ")`)); msg != "" {
		return r, fmt.Errorf("%w: the page reported: %s", ErrPage, msg)
	}
	return r, nil
}

func jsString(s string) string {
	b := []byte{'"'}
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		if c < 0x20 {
			continue
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}

// poll runs a chromedp Poll of the JavaScript expression expr until it is
// truthy, starting it again when the page's JavaScript context was replaced
// under it (a navigation or reload still in flight: "Cannot find context
// with specified id"), until timeout.
func poll[T any](ctx context.Context, expr string, timeout time.Duration) (T, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := chromedp.Run(ctx, chromedp.Poll[T](expr,
			chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") || time.Until(deadline) < 250*time.Millisecond {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
