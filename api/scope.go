package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Scope limits what one API key may see. The zero Scope sees everything,
// without exports, at the server's default rate.
type Scope struct {
	// MMSIs is the vessel allowlist; empty allows every vessel.
	MMSIs []keelson.MMSI `json:"mmsis,omitempty"`
	// Fleet names the allowlist (documentation only; MMSIs is what counts).
	Fleet string `json:"fleet,omitempty"`
	// Vessels is the allowlist of own ships stored without an MMSI (by
	// vessel id): their latest positions, tracks and telemetry. When MMSIs
	// or Vessels is set, only the listed own ships are visible.
	Vessels []string `json:"vessels,omitempty"`
	// Region, when set, is the only area whose positions are visible.
	Region orb.MultiPolygon `json:"-"`
	// MaxRange is the longest time range of one request; 0: the server's.
	MaxRange Duration `json:"max_range,omitempty"`
	// Delay hides everything newer than now - Delay; 0: live data.
	Delay Duration `json:"delay,omitempty"`
	// Export allows more than one page (MaxPage rows) per request.
	Export bool `json:"export,omitempty"`
	// Aggregated allows only latest positions and vessel data: no tracks,
	// raw positions, observations, telemetry or live stream.
	Aggregated bool `json:"aggregated,omitempty"`
	// Rate is the sustained requests per second; 0: the server's default.
	Rate float64 `json:"rate,omitempty"`
	// Burst is the token bucket size; 0: the server's default.
	Burst int `json:"burst,omitempty"`
}

// Duration is a time.Duration that encodes to JSON as "24h0m0s".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration %q", ErrInvalidScope, b)
	}
	*d = Duration(v)
	return nil
}

type scopeJSON struct {
	scopeAlias
	Region *geometry `json:"region,omitempty"`
}

type scopeAlias Scope

// MarshalJSON encodes the scope with its region as a GeoJSON geometry.
func (s Scope) MarshalJSON() ([]byte, error) {
	j := scopeJSON{scopeAlias: scopeAlias(s)}
	if len(s.Region) > 0 {
		j.Region = &geometry{Type: "MultiPolygon", Coordinates: mustJSON(s.Region)}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a scope; the region may be a Polygon or MultiPolygon.
func (s *Scope) UnmarshalJSON(b []byte) error {
	var j scopeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidScope, err)
	}
	*s = Scope(j.scopeAlias)
	if j.Region != nil {
		r, err := j.Region.multiPolygon()
		if err != nil {
			return err
		}
		s.Region = r
	}
	return s.Validate()
}

// geometry is a GeoJSON Polygon or MultiPolygon geometry.
type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // orb geometries always encode
	}
	return b
}

// multiPolygon decodes the geometry, accepting a Polygon or MultiPolygon.
func (g *geometry) multiPolygon() (orb.MultiPolygon, error) {
	switch g.Type {
	case "Polygon":
		var p orb.Polygon
		if err := json.Unmarshal(g.Coordinates, &p); err != nil {
			return nil, fmt.Errorf("%w: bad Polygon coordinates", ErrInvalidScope)
		}
		return orb.MultiPolygon{p}, nil
	case "MultiPolygon":
		var mp orb.MultiPolygon
		if err := json.Unmarshal(g.Coordinates, &mp); err != nil {
			return nil, fmt.Errorf("%w: bad MultiPolygon coordinates", ErrInvalidScope)
		}
		return mp, nil
	}
	return nil, fmt.Errorf("%w: geometry must be a Polygon or MultiPolygon, not %q", ErrInvalidScope, g.Type)
}

// Validate checks the scope's values.
func (s *Scope) Validate() error {
	if s.MaxRange < 0 || s.Delay < 0 {
		return fmt.Errorf("%w: negative max_range or delay", ErrInvalidScope)
	}
	if s.Rate < 0 || s.Burst < 0 {
		return fmt.Errorf("%w: negative rate or burst", ErrInvalidScope)
	}
	for _, p := range s.Region {
		if len(p) == 0 || len(p[0]) < 4 {
			return fmt.Errorf("%w: region polygon needs a ring of at least 4 points", ErrInvalidScope)
		}
		for _, r := range p {
			for _, pt := range r {
				if !validLonLat(pt) {
					return fmt.Errorf("%w: region point %v out of range", ErrInvalidScope, pt)
				}
			}
		}
	}
	return nil
}

// restricted reports whether the key has a vessel allowlist.
func (s *Scope) restricted() bool { return len(s.MMSIs) > 0 || len(s.Vessels) > 0 }

// allowsMMSI reports whether the allowlist admits m.
func (s *Scope) allowsMMSI(m keelson.MMSI) bool {
	return !s.restricted() || slices.Contains(s.MMSIs, m)
}

// allowsVessel reports whether the own-ship allowlist admits v.
func (s *Scope) allowsVessel(v string) bool {
	return !s.restricted() || slices.Contains(s.Vessels, v)
}

// allowsRow reports whether the allowlist admits the vessel of a row: by
// MMSI, or for an own ship stored without an MMSI (MMSI 0) by its vessel
// id, as /v1/vessels/{id} decides for either.
func (s *Scope) allowsRow(v *storage.VesselRow) bool {
	if v.MMSI == 0 {
		return v.Vessel != "" && s.allowsVessel(v.Vessel)
	}
	return s.allowsMMSI(v.MMSI)
}

// allowsPoint reports whether p lies in the region.
func (s *Scope) allowsPoint(p orb.Point) bool {
	return len(s.Region) == 0 || planar.MultiPolygonContains(s.Region, p)
}

// filterMMSIs intersects a requested MMSI list with the allowlist. An empty
// request means "all allowed". ok is false when nothing can match.
func (s *Scope) filterMMSIs(req []keelson.MMSI) (out []keelson.MMSI, ok bool) {
	if len(s.MMSIs) == 0 && !s.restricted() {
		return req, true
	}
	if len(req) == 0 {
		return slices.Clone(s.MMSIs), len(s.MMSIs) > 0
	}
	for _, m := range req {
		if slices.Contains(s.MMSIs, m) {
			out = append(out, m)
		}
	}
	return out, len(out) > 0
}

// cutoff is the newest time the key may see, given now.
func (s *Scope) cutoff(now time.Time) time.Time {
	return now.Add(-time.Duration(s.Delay))
}
