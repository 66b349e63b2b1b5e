package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// route is one endpoint: its handler and its OpenAPI description, kept
// together so that the document cannot miss a route.
type route struct {
	method, pattern string
	public          bool
	h               handlerFunc

	id, summary, desc string
	params            []param
	body              bool     // accepts a GeoJSON polygon body
	schema            string   // component schema of the JSON rows / object
	formats           []string // formats offered (nil: JSON only)
	list              bool     // a paginated list of schema rows
	stream            bool     // text/event-stream
	raw               string   // content type of a non-JSON open endpoint
}

type param struct {
	name, in, typ, desc string
	required            bool
	enum                []string
	min, max            *float64
	pattern             string
	maxLen              int
}

func num(v float64) *float64 { return &v }

var (
	pBBox     = param{name: "bbox", in: "query", typ: "string", desc: "Bounding box W,S,E,N in degrees (lon,lat order, W <= E)."}
	pFrom     = param{name: "from", in: "query", typ: "date-time", desc: "Start of the time range (RFC 3339, inclusive)."}
	pTo       = param{name: "to", in: "query", typ: "date-time", desc: "End of the time range (RFC 3339, exclusive); default now (or now minus the key's delay)."}
	pLimit    = param{name: "limit", in: "query", typ: "integer", desc: "Rows per page; keys without export rights get at most one page size.", min: num(1)}
	pCursor   = param{name: "cursor", in: "query", typ: "string", desc: "next_cursor of the previous page (also in the X-Next-Cursor trailer)."}
	pFormat   = param{name: "format", in: "query", typ: "string", desc: "Output format.", enum: listFormats}
	pMMSIs    = param{name: "mmsi", in: "query", typ: "string", desc: "Comma-separated MMSIs (at most 1000)."}
	pShipType = param{name: "ship_type", in: "query", typ: "string", desc: "Comma-separated ITU ship types 0-99."}
	pIDPath   = param{name: "id", in: "path", typ: "string", required: true, maxLen: 64, pattern: `^([0-9]{1,9}|[A-Za-z][A-Za-z0-9_.:-]*|[0-9]+[A-Za-z_.:-][A-Za-z0-9_.:-]*)$`,
		desc: "The vessel: an MMSI (digits only, 1 to 999999999), or the id of an own-ship vessel whose collector was given no MMSI (its -vessel: 1-64 letters, digits or _ . : -, starting with a letter or digit)."}
)

func (s *Server) routeTable() []route {
	return []route{
		{method: "GET", pattern: "/v1/vessels/{id}", h: s.handleVessel, id: "getVessel", summary: "A vessel's identity, voyage data and latest position",
			desc:   "By MMSI: identity and voyage data (as known at the key's cutoff) and the latest position. By own-ship vessel id: that own ship (stored without an MMSI) as the same Vessel row, with mmsi 0, its id in vessel, no AIS identity (empty strings, zeros, nulls) and its latest position.",
			params: []param{pIDPath, {name: "format", in: "query", typ: "string", enum: []string{"json", "geojson"}, desc: "json (default) or a GeoJSON Feature."}},
			schema: "Vessel"},
		{method: "GET", pattern: "/v1/vessels", h: s.handleVessels, id: "listVessels", summary: "Latest position of every vessel in an area",
			desc:   "Ordered by (mmsi, vessel): own ships stored without an MMSI (mmsi 0, their id in vessel) first, by id, then the other vessels by MMSI. Own ships have no AIS ship type (ship_type 0): a ship_type filter leaves them out unless it names 0.",
			params: []param{pBBox, pShipType, {name: "updated_since", in: "query", typ: "date-time", desc: "Only vessels with a position after this time."}, pLimit, pCursor, pFormat},
			schema: "Vessel", formats: listFormats, list: true},
		{method: "GET", pattern: "/v1/ownships", h: s.handleOwnShips, id: "listOwnShips", summary: "Own-ship vessels stored without an MMSI, with their latest position",
			desc:   "The own ships whose collector was given a vessel id but no MMSI (those with an MMSI are vessels like any other), as of the key's cutoff; each id also serves /v1/vessels/{id} and its track, and they are in /v1/vessels and /v1/vessels/near too (Vessel rows with mmsi 0 and the id in vessel). Ordered by vessel id, not paged.",
			params: []param{pBBox, pFormat}, schema: "OwnShip", formats: listFormats, list: true},
		{method: "GET", pattern: "/v1/vessels/near", h: s.handleNear, id: "nearVessels", summary: "Nearest vessels to a point, with their distance",
			params: []param{{name: "lat", in: "query", typ: "number", required: true, min: num(-90), max: num(90), desc: "Latitude, degrees."},
				{name: "lon", in: "query", typ: "number", required: true, min: num(-180), max: num(180), desc: "Longitude, degrees."},
				{name: "radius_m", in: "query", typ: "number", min: num(0), max: num(maxRadius), desc: "Search radius in metres (default: the whole Earth)."},
				{name: "limit", in: "query", typ: "integer", min: num(1), max: num(1000), desc: "How many vessels (default 10)."}, pShipType, pFormat},
			desc:   "Own ships stored without an MMSI are among them (mmsi 0, their id in vessel, ship_type 0), as in /v1/vessels.",
			schema: "NearVessel", formats: listFormats, list: true},
		{method: "GET", pattern: "/v1/vessels/{id}/track", h: s.handleTrack, id: "getTrack", summary: "A vessel's track as a GeoJSON LineString, optionally simplified or resampled",
			desc: "With format=geojson (default) a Feature whose LineString holds the positions and whose properties hold the mmsi (or, for an own-ship vessel id, the vessel), times, sog, cog, heading and nav_status per point; other formats list the points (Position rows, or OwnShip rows for an own-ship vessel id). A key without export rights gets at most one page of points (after simplify and resample).",
			params: []param{pIDPath, {name: "from", in: "query", typ: "date-time", desc: "Start (RFC 3339); default 24 h before to."}, pTo,
				{name: "simplify", in: "query", typ: "number", min: num(0), max: num(1_000_000), desc: "Douglas-Peucker tolerance in metres."},
				{name: "resample", in: "query", typ: "string", desc: "Fixed interval (Go duration, 1s to 24h): positions interpolated along the great circle at every multiple of it."},
				{name: "max_gap", in: "query", typ: "string", desc: "With resample: no point is interpolated across a gap between reports longer than this (Go duration)."},
				{name: "format", in: "query", typ: "string", enum: listFormats, desc: "geojson (default), or the points as json, csv, ndjson or parquet."}},
			schema: "Position", formats: listFormats},
		{method: "GET", pattern: "/v1/positions", h: s.handlePositions, id: "listPositions", summary: "Positions by area, time, vessels and ship type",
			params: []param{pBBox, {name: "from", in: "query", typ: "date-time", desc: "Start (RFC 3339); default 1 h before to."}, pTo, pMMSIs, pShipType, pLimit, pCursor, pFormat},
			schema: "Position", formats: listFormats, list: true},
		{method: "POST", pattern: "/v1/positions", h: s.handlePositions, id: "searchPositions", summary: "Positions inside a GeoJSON polygon (body), by time, vessels and ship type",
			params: []param{pBBox, {name: "from", in: "query", typ: "date-time", desc: "Start (RFC 3339); default 1 h before to."}, pTo, pMMSIs, pShipType, pLimit, pCursor, pFormat},
			body:   true, schema: "Position", formats: listFormats, list: true},
		{method: "GET", pattern: "/v1/observations", h: s.handleObservations, id: "listObservations", summary: "Ocean observations by area and time, or an own-ship vessel's sensor series",
			desc: "Without vessel: weather, waves, water level and currents (AIS DAC 1 FI 11/31) by bbox, time and station MMSI. With vessel: that own-ship vessel's telemetry readings (rows of the Telemetry schema).",
			params: []param{pBBox, {name: "from", in: "query", typ: "date-time", desc: "Start (RFC 3339); default 24 h before to."}, pTo, pMMSIs,
				{name: "vessel", in: "query", typ: "string", desc: "Own-ship vessel id: return its telemetry instead."},
				{name: "quantity", in: "query", typ: "string", desc: "With vessel: comma-separated quantities (depth, water_temp, ...)."}, pLimit, pCursor, pFormat},
			schema: "Observation", formats: listFormats, list: true},
		{method: "GET", pattern: "/v1/stream", h: s.handleStream, id: "stream", summary: "Live positions as Server-Sent Events",
			desc:   "Each event is `event: position` with the Keelson event JSON as data. Comments keep the connection alive.",
			params: []param{pBBox, pMMSIs, {name: "vessel", in: "query", typ: "string", desc: "Comma-separated own-ship vessel ids (own ships stored without an MMSI). Naming vessels by mmsi or vessel restricts the stream to them; without either, every vessel the key may see."}}, stream: true},
		{method: "GET", pattern: "/openapi.json", public: true, h: s.handleOpenAPI, id: "openapi", summary: "This document", raw: "application/json"},
		{method: "GET", pattern: "/healthz", public: true, h: s.handleHealth, id: "healthz", summary: "Liveness", raw: "application/json"},
		{method: "GET", pattern: "/readyz", public: true, h: s.handleReady, id: "readyz", summary: "Readiness: index loaded and storage reachable", raw: "application/json"},
		{method: "GET", pattern: "/metrics", public: true, h: s.handleMetrics, id: "metrics", summary: "Prometheus metrics", raw: "text/plain"},
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ *Key) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request, _ *Key) error {
	if !s.ready.Load() {
		return errorf(ErrUnavailable, "index loading")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness: storage unreachable", "err", err)
		return errorf(ErrUnavailable, "storage unreachable")
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "vessels": s.index.Len()})
	return nil
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *Key) error {
	promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ *Key) error {
	b, err := json.MarshalIndent(s.OpenAPI(), "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// OpenAPI returns the OpenAPI 3.1 document of the server's routes.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.pattern] = item
		}
		item[strings.ToLower(rt.method)] = s.operation(rt)
	}
	errResp := func(desc string, headers ...string) map[string]any {
		r := map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		if len(headers) > 0 {
			h := map[string]any{}
			for _, name := range headers {
				h[name] = headerRef(name)
			}
			r["headers"] = h
		}
		return r
	}
	quota := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
	unavailable := errResp("No live stream on this server, or the view of a key with a delay is still being prepared (with Retry-After).", quota...)
	unavailable["headers"].(map[string]any)["Retry-After"] = map[string]any{"description": "Seconds to wait before retrying, when it is worth it.", "schema": map[string]any{"type": "integer", "minimum": 1}}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Keelson query API",
			"version":     "1",
			"description": "Vessel positions, tracks, ocean observations and live streams. GeoJSON is in lon,lat order; times are RFC 3339 UTC. Every /v1 path needs an API key (Authorization: Bearer ...); a key's scope may restrict vessels, region, time range, delay, exports and raw access.",
			"license":     map[string]any{"name": "Apache-2.0", "identifier": "Apache-2.0"},
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An API key made with keelson keys create."}},
			"schemas": map[string]any{
				"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
					"error": map[string]any{"type": "object", "required": []string{"code", "message"}, "properties": map[string]any{
						"code":    map[string]any{"type": "string", "enum": []string{"invalid_parameter", "unauthorized", "out_of_scope", "not_found", "rate_limited", "too_large", "unavailable", "internal"}},
						"message": map[string]any{"type": "string"}}}}},
				"Vessel":      vesselSchema(tableSchema(vesselTable)),
				"NearVessel":  vesselSchema(tableSchema(nearTable)),
				"Position":    tableSchema(positionTable),
				"Observation": tableSchema(observationTable),
				"Telemetry":   tableSchema(telemetryTable),
				"OwnShip":     tableSchema(ownShipTable),
				"Track": map[string]any{"type": "object", "description": "GeoJSON Feature with a LineString (null with fewer than 2 points).", "properties": map[string]any{
					"type":       map[string]any{"const": "Feature"},
					"geometry":   map[string]any{"type": []string{"object", "null"}},
					"properties": map[string]any{"type": "object"}}},
				"Polygon": map[string]any{"type": "object", "description": "GeoJSON Polygon or MultiPolygon geometry, or a Feature holding one.",
					"required": []string{"type"}, "properties": map[string]any{
						"type":        map[string]any{"type": "string", "enum": []string{"Polygon", "MultiPolygon", "Feature"}},
						"coordinates": map[string]any{"type": "array"},
						"geometry":    map[string]any{"type": "object"}}},
			},
			"responses": map[string]any{
				"BadRequest":   errResp("Invalid parameter (the message names it).", quota...),
				"Unauthorized": errResp("Missing, unknown or revoked key.", quota...),
				"Forbidden":    errResp("Outside the key's scope.", quota...),
				"NotFound":     errResp("Not found.", quota...),
				"TooMany":      errResp("Rate limited: retry after Retry-After seconds.", append([]string{"Retry-After"}, quota...)...),
				"TooLarge":     errResp("The query exceeds the server's limits (ClickHouse caps).", quota...),
				"Internal":     errResp("Internal error (details are logged, never shown).", quota...),
				"Unavailable":  unavailable,
				"NotReady":     errResp("Not ready: the index is loading or storage is unreachable."),
			},
			"headers": map[string]any{
				"X-RateLimit-Limit": map[string]any{"required": true, "schema": map[string]any{"type": "integer", "minimum": 1},
					"description": "Size (requests) of the token bucket that applied: the key's, or for a request without a valid key (none, malformed, unknown, revoked) the client address's."},
				"X-RateLimit-Remaining": map[string]any{"required": true, "description": "Requests that bucket allows now.", "schema": map[string]any{"type": "integer", "minimum": 0}},
				"X-RateLimit-Reset":     map[string]any{"required": true, "description": "Seconds until that bucket is full again.", "schema": map[string]any{"type": "integer", "minimum": 0}},
				"Retry-After":           map[string]any{"required": true, "description": "Seconds to wait before the next request.", "schema": map[string]any{"type": "integer", "minimum": 1}},
				"X-Next-Cursor": map[string]any{"description": "Sent as an HTTP trailer (announced by Trailer: X-Next-Cursor): the cursor of the next page, empty on the last one. The same as next_cursor in JSON bodies; the only one for csv, ndjson and parquet.",
					"schema": map[string]any{"type": "string"}},
			},
		},
	}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func headerRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/headers/" + name}
}

func respRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/responses/" + name}
}

func tableSchema[T any](t *table[T]) map[string]any {
	props := map[string]any{}
	var req []string
	for _, c := range t.cols {
		var p map[string]any
		switch c.kind {
		case kInt:
			p = map[string]any{"type": "integer"}
		case kFloat:
			p = map[string]any{"type": []string{"number", "null"}}
		case kString:
			p = map[string]any{"type": "string"}
		case kTime:
			p = map[string]any{"type": []string{"string", "null"}, "format": "date-time"}
		}
		props[c.name] = p
		req = append(req, c.name)
	}
	return map[string]any{"type": "object", "properties": props, "required": req}
}

// vesselSchema describes the identity columns of a vessel row.
func vesselSchema(sch map[string]any) map[string]any {
	props := sch["properties"].(map[string]any)
	props["mmsi"] = map[string]any{"type": "integer", "minimum": 0, "maximum": 999999999,
		"description": "The vessel's MMSI; 0 for an own ship stored without an MMSI (named by vessel)."}
	props["vessel"] = map[string]any{"type": "string", "maxLength": 64,
		"description": "The own-ship vessel id when mmsi is 0 (the id of /v1/vessels/{id}, /v1/ownships and /v1/stream?vessel=); empty for every other vessel."}
	props["ship_type"] = map[string]any{"type": "integer", "minimum": 0, "maximum": 255,
		"description": "ITU ship and cargo type; 0 when not known (own ships stored without an MMSI have none)."}
	return sch
}

func (s *Server) operation(rt route) map[string]any {
	op := map[string]any{"operationId": rt.id, "summary": rt.summary}
	if rt.desc != "" {
		op["description"] = rt.desc
	}
	var params []any
	for _, p := range rt.params {
		sch := map[string]any{}
		switch p.typ {
		case "date-time":
			sch["type"], sch["format"] = "string", "date-time"
		default:
			sch["type"] = p.typ
		}
		if p.enum != nil {
			sch["enum"] = p.enum
		}
		if p.min != nil {
			sch["minimum"] = *p.min
		}
		if p.max != nil {
			sch["maximum"] = *p.max
		}
		if p.pattern != "" {
			sch["pattern"] = p.pattern
		}
		if p.maxLen > 0 {
			sch["maxLength"] = p.maxLen
		}
		params = append(params, map[string]any{"name": p.name, "in": p.in, "required": p.required, "description": p.desc, "schema": sch})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.body {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"application/json":     map[string]any{"schema": ref("Polygon")},
			"application/geo+json": map[string]any{"schema": ref("Polygon")}}}
	}
	content := map[string]any{}
	switch {
	case rt.raw != "":
		content[rt.raw] = map[string]any{"schema": map[string]any{"type": "string"}}
		if rt.raw == "application/json" {
			content[rt.raw] = map[string]any{"schema": map[string]any{"type": "object"}}
		}
	case rt.stream:
		content["text/event-stream"] = map[string]any{"schema": map[string]any{"type": "string"}}
	default:
		row := ref(rt.schema)
		var js map[string]any
		if rt.list {
			js = map[string]any{"type": "object", "required": []string{"data"}, "properties": map[string]any{
				"data": map[string]any{"type": "array", "items": row}, "next_cursor": map[string]any{"type": "string"}}}
			if rt.id == "listObservations" {
				js["properties"].(map[string]any)["data"] = map[string]any{"type": "array", "items": map[string]any{"oneOf": []any{row, ref("Telemetry")}}}
			}
		} else if rt.id == "getTrack" {
			js = map[string]any{"type": "object", "required": []string{"data"}, "properties": map[string]any{"data": map[string]any{"type": "array", "items": map[string]any{"oneOf": []any{row, ref("OwnShip")}}}}}
		} else {
			js = row
		}
		content["application/json"] = map[string]any{"schema": js}
		for _, f := range rt.formats {
			switch Format(f) {
			case FormatGeoJSON:
				if rt.id == "getTrack" {
					content[contentType(FormatGeoJSON)] = map[string]any{"schema": ref("Track")}
				} else {
					content[contentType(FormatGeoJSON)] = map[string]any{"schema": map[string]any{"type": "object", "description": "GeoJSON FeatureCollection; each Feature's properties are one row."}}
				}
			case FormatCSV, FormatNDJSON:
				content[contentType(Format(f))] = map[string]any{"schema": map[string]any{"type": "string", "description": "One row per line, columns as in the JSON rows."}}
			case FormatParquet:
				content[contentType(FormatParquet)] = map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/vnd.apache.parquet"}}
			}
		}
		if rt.id == "getVessel" {
			content[contentType(FormatGeoJSON)] = map[string]any{"schema": map[string]any{"type": "object", "description": "GeoJSON Feature."}}
		}
	}
	ok := map[string]any{"description": "OK", "content": content}
	if !rt.public {
		h := map[string]any{"X-RateLimit-Limit": headerRef("X-RateLimit-Limit"), "X-RateLimit-Remaining": headerRef("X-RateLimit-Remaining"),
			"X-RateLimit-Reset": headerRef("X-RateLimit-Reset")}
		if slices.ContainsFunc(rt.params, func(p param) bool { return p.name == "cursor" }) {
			h["X-Next-Cursor"] = headerRef("X-Next-Cursor")
		}
		ok["headers"] = h
	}
	resp := map[string]any{"200": ok}
	if !rt.public {
		op["security"] = []any{map[string]any{"bearer": []any{}}}
		resp["400"], resp["401"], resp["403"], resp["429"], resp["500"] = respRef("BadRequest"), respRef("Unauthorized"), respRef("Forbidden"), respRef("TooMany"), respRef("Internal")
		if rt.list || rt.id == "getTrack" {
			resp["413"] = respRef("TooLarge")
		}
		if strings.Contains(rt.pattern, "{id}") {
			resp["404"] = respRef("NotFound")
		}
		if rt.stream || rt.id == "getVessel" || rt.id == "listVessels" || rt.id == "nearVessels" {
			resp["503"] = respRef("Unavailable") // no stream; a delayed key's view not ready
		}
	} else if rt.id == "readyz" {
		resp["503"] = respRef("NotReady")
	}
	op["responses"] = resp
	return op
}
