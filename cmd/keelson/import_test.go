//go:build !shipboard

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/klauspost/compress/zstd"
)

const (
	noaaCSV = `MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass
367000001,2024-01-01T00:00:05,29.93000,-90.10000,10.2,180.5,181,ANNA B,IMO9087654,WDA1234,70,0,120,20,7.5,70,A
367000001,2024-01-01T00:01:05,29.92000,-90.10000,10.4,180.0,511,ANNA B,IMO9087654,WDA1234,70,0,120,20,7.5,70,A
338000002,2024-01-01T00:00:10,30.00000,-89.00000,0.0,360.0,511,,,,,15,,,,,B
`
	noaa2024CSV = `mmsi,base_date_time,longitude,latitude,sog,cog,heading,vessel_name,imo,call_sign,vessel_type,status,length,width,draft,cargo,transceiver
367000003,2025-01-01 00:00:05,-90.2,29.5,5.5,90.0,90,CAROL,,WDC3,31,0,30,10,3.0,,A
`
	dmaCSV = `# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,Data source type,A,B,C,D
01/02/2024 00:00:00,Class A,219000004,55.500000,10.500000,Under way using engine,0.0,12.1,45.0,44,9123456,OXAB2,DANA,Cargo,,20,100,GPS,6.1,AARHUS,02/02/2024 08:00:00,AIS,80,20,10,10
01/02/2024 00:00:10,Class B,219000005,55.600000,10.600000,Unknown value,,3.0,,Unknown,Unknown,Unknown,,Pleasure,,,,Undefined,,Unknown,,AIS,,,,
`
	benchCSV = `mmsi,ts,lat,lon,sog,cog,heading,nav_status
200000001,2026-10-01 00:00:00.125,54.123456,11.654321,12.5,93.2,92,0
200000002,2026-10-01 00:00:01.500,54.2,11.7,0.0,0.0,511,5
200000001,2026-10-01 00:20:00.000,54.2,11.8,bad,93.0,92,0
200000001,2026-10-01 00:21:00.000,54.21,11.81,12.4,93.0,92,0
`
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(b string) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write([]byte(b))
	w.Close()
	return buf.Bytes()
}

func zst(b string) []byte {
	w, _ := zstd.NewWriter(nil)
	return w.EncodeAll([]byte(b), nil)
}

func TestImportFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	dir := t.TempDir()
	files := []string{
		writeFile(t, dir, "noaa.csv", []byte(noaaCSV)),
		writeFile(t, dir, "noaa2024.csv.gz", gz(noaa2024CSV)),
		writeFile(t, dir, "aisdk.csv.zst", zst(dmaCSV)),
		writeFile(t, dir, "bench.csv", []byte(benchCSV)),
		writeFile(t, dir, "ais.nmea", []byte("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C\n")),
	}
	ch := "chdb://" + filepath.Join(dir, "db")
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"import", "-clickhouse", ch, "-log-level", "error"}, files...), nil, &out, &errb)
	if !errors.Is(err, errMalformed) {
		t.Fatalf("want errMalformed for the bad bench row, got %v\n%s", err, errb.String())
	}
	if !strings.Contains(err.Error(), "bench.csv:4:") || !strings.Contains(err.Error(), `number "bad"`) {
		t.Errorf("error does not name the line: %v", err)
	}
	if !strings.Contains(out.String(), "imported 14 events from 5 files") {
		t.Errorf("summary: %q", out.String())
	}
	sql := func(q string) string {
		t.Helper()
		var o, e bytes.Buffer
		if err := run(context.Background(), []string{"sql", "-clickhouse", ch, q}, nil, &o, &e); err != nil {
			t.Fatalf("%s: %v %s", q, err, e.String())
		}
		return o.String()
	}
	got := sql("SELECT mmsi, ts, lat, lon, sog, isNaN(heading), nav_status, class FROM positions FINAL ORDER BY mmsi, ts")
	want := `mmsi	ts	lat	lon	sog	isNaN(heading)	nav_status	class
200000001	2026-10-01 00:00:00	54.123456	11.654321	12.5	0	0	A
200000001	2026-10-01 00:21:00	54.21	11.81	12.4	0	0	A
200000002	2026-10-01 00:00:01	54.2	11.7	0	1	5	A
219000004	2024-02-01 00:00:00	55.5	10.5	12.1	0	0	A
219000005	2024-02-01 00:00:10	55.6	10.6	3	1	15	B
338000002	2024-01-01 00:00:10	30	-89	0	1	15	B
366053209	`
	if !strings.HasPrefix(got, want) {
		t.Errorf("positions:\n%s\nwant prefix:\n%s", got, want)
	}
	if !strings.Contains(got, "367000003	2025-01-01 00:00:05	29.5	-90.2	5.5	0	0	A") {
		t.Errorf("NOAA 2024 row missing:\n%s", got)
	}
	if !strings.Contains(got, "367000001	2024-01-01 00:00:05	29.93	-90.1	10.2	0	0	A\n367000001	2024-01-01 00:01:05	29.92	-90.1	10.4	1	0	A") {
		t.Errorf("NOAA rows missing:\n%s", got)
	}
	v := sql("SELECT mmsi, argMaxMerge(name), argMaxMerge(callsign), argMaxMerge(imo), argMaxMerge(to_bow) + argMaxMerge(to_stern), argMaxMerge(ship_type), argMaxMerge(destination) FROM vessels GROUP BY mmsi ORDER BY mmsi")
	for _, w := range []string{"219000004\tDANA\tOXAB2\t9123456\t100\t70\tAARHUS", "367000001\tANNA B\tWDA1234\t9087654\t120\t70\t", "367000003\tCAROL\tWDC3\t0\t30\t31\t"} {
		if !strings.Contains(v, w) {
			t.Errorf("vessels lack %q:\n%s", w, v)
		}
	}
	// Importing again adds nothing (stable event ids).
	run(context.Background(), append([]string{"import", "-clickhouse", ch, "-log-level", "error"}, files...), nil, &out, &errb)
	if n := sql("SELECT count() FROM events FINAL"); n != "count()\n14\n" {
		t.Errorf("after re-import: %q", n)
	}
	// sql is read-only.
	var o, e bytes.Buffer
	if err := run(context.Background(), []string{"sql", "-clickhouse", ch, "DROP TABLE positions"}, nil, &o, &e); err == nil {
		t.Error("sql ran a DROP")
	}
	if j := sql("SELECT 1 AS one, 'a\tb' AS s"); j != "one\ts\n1\ta\\tb\n" {
		t.Errorf("tsv: %q", j)
	}
}

func TestSniffFormat(t *testing.T) {
	for in, want := range map[string]importFormat{
		"MMSI,BaseDateTime,LAT":                  fmtNOAA,
		"mmsi,base_date_time,longitude":          fmtNOAA,
		"# Timestamp,Type of mobile,MMSI":        fmtDMA,
		"mmsi,ts,lat,lon,sog,cog,heading,nav_st": fmtBench,
		"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n": fmtNMEA,
		"\\s:x,c:1*00\\!AIVDM":                   fmtNMEA,
		"1550303566 !AIVDM,1,1":                  fmtNMEA,
		"hello,world":                            fmtAuto,
	} {
		if got := sniffFormat([]byte(in + "\n")); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func FuzzImportCSVRow(f *testing.F) {
	for _, s := range []string{noaaCSV, noaa2024CSV, dmaCSV, benchCSV} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		im := &importer{path: "fuzz.csv", collector: "fuzz", statics: map[keelson.MMSI]uint64{},
			log: slog.New(slog.DiscardHandler), batchSize: 1 << 30, batch: storage.NewBatch()}
		head := []byte(data)
		if len(head) > 512 {
			head = head[:512]
		}
		im.format = sniffFormat(head)
		if im.format == fmtAuto || im.format == fmtNMEA {
			im.format = fmtBench
		}
		_ = im.csv(context.Background(), strings.NewReader(data)) // must not panic
	})
}
