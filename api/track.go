package api

import (
	"math"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/simplify"
)

// Simplify returns the points of a time-ordered track that Douglas-Peucker
// keeps with the given tolerance in metres. The track is projected to metres
// with a local equirectangular projection around its middle, which is
// accurate to well under a percent over the extent of one vessel's track.
func Simplify(pts []storage.PositionRow, tolerance float64) []storage.PositionRow {
	if len(pts) < 3 || tolerance <= 0 {
		return pts
	}
	mid := pts[len(pts)/2]
	lon0, lat0 := mid.Lon, mid.Lat
	kx := orb.EarthRadius * math.Pi / 180 * math.Cos(lat0*math.Pi/180)
	ky := orb.EarthRadius * math.Pi / 180
	ls := make(orb.LineString, len(pts))
	for i, p := range pts {
		dl := p.Lon - lon0
		if dl > 180 { // keep a track across the antimeridian continuous
			dl -= 360
		} else if dl < -180 {
			dl += 360
		}
		ls[i] = orb.Point{dl * kx, (p.Lat - lat0) * ky}
	}
	kept := simplify.DouglasPeucker(tolerance).LineString(ls.Clone())
	// The kept points are a subsequence of ls: match them back in order.
	out := make([]storage.PositionRow, 0, len(kept))
	j := 0
	for i := range ls {
		if j < len(kept) && ls[i] == kept[j] {
			out = append(out, pts[i])
			j++
		}
	}
	return out
}

// Resample returns the track at every multiple of interval (aligned to the
// Unix epoch) between its first and last point, each position interpolated
// along the great circle between the reports around it, and speed, course
// and heading interpolated too. No point is made inside a gap between two
// reports longer than maxGap (0: no limit).
func Resample(pts []storage.PositionRow, interval, maxGap time.Duration) []storage.PositionRow {
	if len(pts) == 0 || interval <= 0 {
		return pts
	}
	first, last := pts[0].Time, pts[len(pts)-1].Time
	t := first.Truncate(interval)
	if t.Before(first) {
		t = t.Add(interval)
	}
	out := make([]storage.PositionRow, 0, int(last.Sub(t)/interval)+1)
	i := 0
	for ; !t.After(last); t = t.Add(interval) {
		for i+1 < len(pts) && pts[i+1].Time.Before(t) {
			i++
		}
		// Now pts[i].Time <= t and (i is last or pts[i+1].Time >= t).
		a := pts[i]
		if a.Time.Equal(t) {
			out = append(out, a)
			continue
		}
		if i+1 >= len(pts) {
			break
		}
		b := pts[i+1]
		if b.Time.Equal(t) {
			out = append(out, b)
			continue
		}
		gap := b.Time.Sub(a.Time)
		if maxGap > 0 && gap > maxGap {
			continue
		}
		f := float64(t.Sub(a.Time)) / float64(gap)
		out = append(out, interpolate(a, b, f, t))
	}
	return out
}

// interpolate returns the point a fraction f of the way from a to b along
// the great circle.
func interpolate(a, b storage.PositionRow, f float64, t time.Time) storage.PositionRow {
	pa, pb := a.Point(), b.Point()
	d := geo.Distance(pa, pb)
	p := pa
	if d > 0 {
		p = geo.PointAtBearingAndDistance(pa, geo.Bearing(pa, pb), f*d)
	}
	r := storage.PositionRow{
		MMSI: a.MMSI, Time: t, Lon: p[0], Lat: p[1],
		SOG: lerp(a.SOG, b.SOG, f), COG: lerpAngle(a.COG, b.COG, f), Heading: lerpAngle(a.Heading, b.Heading, f),
		NavStatus: a.NavStatus,
	}
	if f >= 0.5 {
		r.NavStatus = b.NavStatus
	}
	return r
}

func lerp(a, b keelson.Float, f float64) keelson.Float {
	if !a.Valid() || !b.Valid() {
		return keelson.NA
	}
	return keelson.Float(float64(a) + (float64(b)-float64(a))*f)
}

// lerpAngle interpolates degrees the short way round.
func lerpAngle(a, b keelson.Float, f float64) keelson.Float {
	if !a.Valid() || !b.Valid() {
		return keelson.NA
	}
	d := math.Mod(float64(b)-float64(a)+540, 360) - 180
	v := math.Mod(float64(a)+d*f+360, 360)
	return keelson.Float(v)
}
