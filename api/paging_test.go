package api

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Pages of /v1/positions put together are the whole answer, whatever the
// page size, also where one vessel reported several places at the same
// millisecond (the captures hold such rows) and a page ends among them.
func TestPositionPagesLoseNothing(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	win := "from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now.Add(24*time.Hour))
	var whole page
	e.call(t, "GET", "/v1/positions?limit=100000&"+win, k, "", 200, &whole)
	if whole.Next != "" || len(whole.Data) < 1000 {
		t.Fatalf("the whole answer: %d rows, next %q", len(whole.Data), whole.Next)
	}
	key := func(r row) string { return fmt.Sprint(r["time"], r["mmsi"], r["lat"], r["lon"]) }
	ties := 0
	for i := 1; i < len(whole.Data); i++ {
		a, b := whole.Data[i-1], whole.Data[i]
		if a["time"] == b["time"] && a["mmsi"] == b["mmsi"] {
			ties++
			if a.num("lat") > b.num("lat") || a.num("lat") == b.num("lat") && a.num("lon") >= b.num("lon") {
				t.Fatalf("rows %d and %d of one vessel and time not ordered by place: %v %v", i-1, i, a, b)
			}
		}
	}
	if ties == 0 {
		t.Fatal("no vessel with two places at one time in the data: the test shows nothing")
	}
	want := make([]string, len(whole.Data))
	for i, r := range whole.Data {
		want[i] = key(r)
	}
	// Pages as small as e.all allows (1,000 pages), and others.
	for _, size := range []int{len(want)/999 + 1, len(want)/999 + 2, 50, 333} {
		got := e.all(t, fmt.Sprintf("/v1/positions?limit=%d&%s", size, win), k)
		keys := make([]string, len(got))
		for i, r := range got {
			keys[i] = key(r)
		}
		if !slices.Equal(keys, want) {
			missing := 0
			for _, w := range want {
				if !slices.Contains(keys, w) {
					missing++
				}
			}
			t.Fatalf("pages of %d: %d rows, want %d (%d missing)", size, len(keys), len(want), missing)
		}
	}
}
