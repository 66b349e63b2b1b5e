package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/keelson/keelson"
)

type decodeStats struct {
	Lines    uint64            `json:"lines"`
	Messages uint64            `json:"messages"`
	Errors   uint64            `json:"errors"`
	ByType   map[string]uint64 `json:"by_type"`
	ByError  map[string]uint64 `json:"by_error"`
}

func runDecodeCmd(t *testing.T, stdin string, args ...string) (string, decodeStats, error) {
	t.Helper()
	var out, errw bytes.Buffer
	err := run(context.Background(), append([]string{"decode"}, args...), strings.NewReader(stdin), &out, &errw)
	var s decodeStats
	if strings.Contains(strings.Join(args, " "), "-stats") && err == nil {
		if jerr := json.Unmarshal(errw.Bytes(), &s); jerr != nil {
			t.Fatalf("stats %q: %v", errw.String(), jerr)
		}
	}
	return out.String(), s, err
}

func TestDecodeCommandJSON(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "ais", "libais_tagblock.nmea")
	out, s, err := runDecodeCmd(t, "", "-stats", file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || s.Lines != 5 || s.Messages != 4 || s.Errors != 0 || s.ByType["1"] != 3 || s.ByType["5"] != 1 {
		t.Fatalf("%d lines, stats %+v:\n%s", len(lines), s, out)
	}
	for _, l := range lines {
		var e keelson.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if e.V != keelson.SchemaVersion || e.MMSI == 0 || e.AISType == 0 || e.Source.Station == "" || e.TagTime.IsZero() || e.Received.IsZero() {
			t.Errorf("event %+v", e)
		}
	}
}

func TestDecodeCommandFormats(t *testing.T) {
	dir := t.TempDir()
	// Own-ship and AIS lines, a bad checksum, garbage, stdin and a gzip file.
	in := "$GPHDT,274.07,T*03\r\n!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C\r\ngarbage\r\n!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58\r\n"
	gz := filepath.Join(dir, "in.nmea.gz")
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte("!AIVDM,1,1,,A,B5NIeAP00=qmw14cRKvQSwm5WP06,0*51\n"))
	zw.Close()
	if err := os.WriteFile(gz, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	out, s, err := runDecodeCmd(t, in, "-stats", "-", gz)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 3 || s.Messages != 3 || s.Errors != 2 || s.ByError["checksum"] != 1 || s.ByError["no_sentence"] != 1 || s.Lines != 5 {
		t.Fatalf("json: %d lines, stats %+v\n%s", n, s, out)
	}

	out, s, err = runDecodeCmd(t, in, "-stats", "-format", "gpsd", "-lenient")
	if err != nil {
		t.Fatal(err)
	}
	// gpsd format: AIS only (the HDT is skipped), the bad checksum accepted.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || s.Messages != 3 || s.Errors != 1 {
		t.Fatalf("gpsd: %q, stats %+v", out, s)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["class"] != "AIS" || m["device"] != "stdin" {
			t.Fatalf("gpsd object %s: %v", l, err)
		}
	}

	out, s, err = runDecodeCmd(t, in, "-stats", "-format", "none")
	if err != nil || out != "" || s.Messages != 2 {
		t.Fatalf("none: %q %+v %v", out, s, err)
	}

	if _, _, err := runDecodeCmd(t, "", "-format", "xml"); err == nil {
		t.Error("-format xml accepted")
	}
	if _, _, err := runDecodeCmd(t, "", filepath.Join(dir, "missing")); err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := runDecodeCmd(t, "", "-own-mmsi", "abc"); err == nil {
		t.Error("bad -own-mmsi accepted")
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// TestDecodeCommandCounts: -stats counts equal the objects written, over all
// captures at once (the collector relies on it).
func TestDecodeCommandCounts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "*"))
	out, s, err := runDecodeCmd(t, "", append([]string{"-stats", "-own-mmsi", "244000001", "-vessel", "test"}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(strings.Count(out, "\n"))
	// 6833 AIS messages + 4604 own-ship sentences (see decode's count tests).
	if n != s.Messages || s.Messages != 6833+4604 {
		t.Fatalf("%d objects, stats %+v", n, s)
	}
}

func TestDecodeCommandLongLine(t *testing.T) {
	in := strings.Repeat("x", 200<<10) + "\n!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58\n"
	out, s, err := runDecodeCmd(t, in, "-stats")
	if err != nil || strings.Count(out, "\n") != 1 || s.ByError["line_too_long"] != 1 || s.Lines != 2 {
		t.Fatalf("%v %+v %q", err, s, out)
	}
}
