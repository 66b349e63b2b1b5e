//go:build !shipboard

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/storage"
)

const keysUsage = `keys create|list|revoke [flags]

  keys create -name NAME [-mmsi 1,2] [-fleet NAME] [-vessel ID] [-region FILE.geojson | -bbox W,S,E,N]
              [-max-range 24h] [-delay 24h] [-export] [-aggregated] [-rate N] [-burst N]
      makes a key and prints it ONCE on stdout (only its hash is stored)
  keys list     lists keys (id, name, created, revoked, scope)
  keys revoke ID
      revokes a key (the API stops accepting it within its key cache time)`

// runKeys manages the API keys stored in ClickHouse.
func runKeys(ctx context.Context, args []string, io stdio) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("keys", keysUsage, io.err)
		if err := fs.parse(args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, keysUsage, io.err)
	var chURL string
	fs.StringVar(&chURL, "clickhouse", defaultClickHouse, "ClickHouse URL: clickhouse://user:password@host:9000/db or chdb:///dir")
	var (
		name, mmsis, fleet, vessels, region, bbox string
		maxRange, delay                           time.Duration
		scope                                     api.Scope
	)
	if sub == "create" {
		fs.StringVar(&name, "name", "", "who or what the key is for (required)")
		fs.StringVar(&mmsis, "mmsi", "", "vessel allowlist: comma-separated MMSIs (default: all vessels)")
		fs.StringVar(&fleet, "fleet", "", "name of the allowlist (a label)")
		fs.StringVar(&vessels, "vessel", "", "own-ship allowlist for telemetry: comma-separated vessel ids")
		fs.StringVar(&region, "region", "", "GeoJSON file with a Polygon or MultiPolygon (geometry or Feature): the only visible area")
		fs.StringVar(&bbox, "bbox", "", "the only visible area as W,S,E,N (instead of -region)")
		fs.DurationVar(&maxRange, "max-range", 0, "longest time range per request (default: the server's)")
		fs.DurationVar(&delay, "delay", 0, "show only data older than this, e.g. 24h (default: live)")
		fs.BoolVar(&scope.Export, "export", false, "allow bulk exports (more than one page per request)")
		fs.BoolVar(&scope.Aggregated, "aggregated", false, "latest positions and vessel data only: no tracks, raw positions, observations or stream")
		fs.Float64Var(&scope.Rate, "rate", 0, "requests per second (default: the server's)")
		fs.IntVar(&scope.Burst, "burst", 0, "token bucket size (default: the server's)")
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	switch sub {
	case "create", "list", "revoke":
	default:
		fs.Usage()
		return fmt.Errorf("keys: unknown subcommand %q (create, list or revoke)", sub)
	}
	if sub == "revoke" && fs.NArg() != 1 || sub != "revoke" && fs.NArg() != 0 {
		return fmt.Errorf("keys %s: wrong arguments %q", sub, fs.Args())
	}
	var err error
	if sub == "create" {
		if name == "" {
			return errors.New("keys create: -name is required")
		}
		if scope, err = buildScope(scope, mmsis, fleet, vessels, region, bbox, maxRange, delay); err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
	}
	db, err := storage.Open(ctx, chURL, storage.Options{})
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer db.Close()
	if err := db.EnsureAPIKeys(ctx); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	switch sub {
	case "create":
		secret, k, err := api.NewKey(name, scope, time.Now())
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		sk, err := k.Storage()
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		if err := db.PutAPIKey(ctx, sk); err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(io.err, "keys: created key %s (%s), scope %s\nkeys: the key is shown once; only its hash is stored:\n", k.ID, name, sk.Scope)
		fmt.Fprintln(io.out, secret)
	case "list":
		keys, err := db.APIKeys(ctx)
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		tw := tabwriter.NewWriter(io.out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED\tSCOPE")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", k.ID, k.Name, k.Created.UTC().Format(time.RFC3339), k.Revoked, k.Scope)
		}
		return tw.Flush()
	case "revoke":
		id := fs.Arg(0)
		if err := db.RevokeAPIKey(ctx, id); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("keys revoke: no key %q", id)
			}
			return fmt.Errorf("keys revoke: %w", err)
		}
		fmt.Fprintf(io.err, "keys: revoked %s\n", id)
	}
	return nil
}

// buildScope makes a scope from the create flags.
func buildScope(s api.Scope, mmsis, fleet, vessels, region, bbox string, maxRange, delay time.Duration) (api.Scope, error) {
	for _, f := range strings.Split(mmsis, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		m, err := keelson.ParseMMSI(f)
		if err != nil {
			return s, fmt.Errorf("-mmsi: %w", err)
		}
		s.MMSIs = append(s.MMSIs, m)
	}
	for _, v := range strings.Split(vessels, ",") {
		if v = strings.TrimSpace(v); v != "" {
			s.Vessels = append(s.Vessels, v)
		}
	}
	s.Fleet = fleet
	s.MaxRange, s.Delay = api.Duration(maxRange), api.Duration(delay)
	if region != "" && bbox != "" {
		return s, errors.New("-region and -bbox exclude each other")
	}
	var geom json.RawMessage
	if region != "" {
		b, err := os.ReadFile(region)
		if err != nil {
			return s, fmt.Errorf("-region: %w", err)
		}
		var f struct {
			Type     string          `json:"type"`
			Geometry json.RawMessage `json:"geometry"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return s, fmt.Errorf("-region %s: %w", region, err)
		}
		geom = b
		if f.Type == "Feature" {
			geom = f.Geometry
		}
	}
	if bbox != "" {
		var v [4]float64
		parts := strings.Split(bbox, ",")
		if len(parts) != 4 {
			return s, fmt.Errorf("-bbox %q: want W,S,E,N", bbox)
		}
		for i, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return s, fmt.Errorf("-bbox %q: %w", bbox, err)
			}
			v[i] = f
		}
		if v[0] >= v[2] || v[1] >= v[3] {
			return s, fmt.Errorf("-bbox %q: want W < E and S < N", bbox)
		}
		geom = json.RawMessage(fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}`,
			v[0], v[1], v[2], v[1], v[2], v[3], v[0], v[3], v[0], v[1]))
	}
	// Decode through the scope's own JSON so that the region is validated
	// exactly as when the API reads it back.
	b, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	if geom != nil {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return s, err
		}
		m["region"] = geom
		if b, err = json.Marshal(m); err != nil {
			return s, fmt.Errorf("region: %w", err)
		}
	}
	var out api.Scope
	if err := json.Unmarshal(b, &out); err != nil {
		return s, err
	}
	return out, nil
}
