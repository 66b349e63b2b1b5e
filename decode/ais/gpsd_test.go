package ais

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var (
	update    = flag.Bool("update", false, "regenerate the gpsd golden files with gpsdecode -j")
	maxReport = flag.Int("gpsd-report", 200, "report at most this many gpsd mismatches")
)

// golden is one line of a golden file: a message of a capture and what
// gpsd's `gpsdecode -j` printed for it (nothing when gpsd rejected it).
type golden struct {
	sample
	GPSD json.RawMessage `json:"gpsd,omitempty"`
	// GPSDInvalid holds what gpsd printed when it is not valid JSON (gpsd
	// does not escape the text of some application messages).
	GPSDInvalid string `json:"gpsd_invalid,omitempty"`
}

func goldenPath(capture string) string {
	return filepath.Join("testdata", "gpsd", filepath.Base(capture)+".jsonl")
}

// armorSentences renders a message as canonical !AIVDM sentences (60
// payload characters per sentence) for gpsdecode.
func armorSentences(w *bytes.Buffer, payload string, fill, seq int) {
	n := (len(payload) + 59) / 60
	for i := 0; i < n; i++ {
		chunk := payload[i*60 : min(len(payload), (i+1)*60)]
		f := 0
		if i == n-1 {
			f = fill
		}
		sid := ""
		if n > 1 {
			sid = fmt.Sprint(seq % 10)
		}
		body := fmt.Sprintf("AIVDM,%d,%d,%s,A,%s,%d", n, i+1, sid, chunk, f)
		var cs byte
		for j := 0; j < len(body); j++ {
			cs ^= body[j]
		}
		fmt.Fprintf(w, "!%s*%02X\r\n", body, cs)
	}
}

// markerMMSI is the sender of the type 10 marker messages that separate
// the messages fed to gpsdecode, so that its output can be matched to them.
const markerMMSI = 999999999

// markerPayload is a type 10 message with repeat 3 from markerMMSI to dest.
func markerPayload(dest uint32) string {
	var b [72]byte
	put := func(off, n int, v uint64) {
		for i := 0; i < n; i++ {
			b[off+i] = byte(v>>(n-1-i)) & 1
		}
	}
	put(0, 6, 10)
	put(6, 2, 3)
	put(8, 30, markerMMSI)
	put(40, 30, uint64(dest))
	var s []byte
	for i := 0; i < 72; i += 6 {
		v := 0
		for j := 0; j < 6; j++ {
			v = v<<1 | int(b[i+j])
		}
		if v < 40 {
			s = append(s, byte(v+48))
		} else {
			s = append(s, byte(v+56))
		}
	}
	return string(s)
}

// runGPSD decodes the samples with gpsdecode -j, one output (or none) per
// sample; output that is not valid JSON is returned as a JSON string.
func runGPSD(t *testing.T, samples []sample) []json.RawMessage {
	var in bytes.Buffer
	for i, s := range samples {
		armorSentences(&in, s.Payload, s.Fill, i)
		armorSentences(&in, markerPayload(uint32(i)), 0, 0)
	}
	cmd := exec.Command("gpsdecode", "-j")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpsdecode: %v", err)
	}
	res := make([]json.RawMessage, len(samples))
	var pending []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m struct {
			Type   int    `json:"type"`
			Repeat int    `json:"repeat"`
			MMSI   uint32 `json:"mmsi"`
			Dest   uint32 `json:"dest_mmsi"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			q, _ := json.Marshal(string(line))
			pending = append(pending, json.RawMessage(q))
			continue
		}
		if m.Type == 10 && m.Repeat == 3 && m.MMSI == markerMMSI {
			if int(m.Dest) >= len(res) {
				t.Fatalf("marker %d out of range", m.Dest)
			}
			if len(pending) > 1 {
				t.Fatalf("gpsdecode printed %d objects for message %d", len(pending), m.Dest)
			}
			if len(pending) == 1 {
				res[m.Dest] = pending[0]
			}
			pending = pending[:0]
			continue
		}
		pending = append(pending, json.RawMessage(bytes.Clone(line)))
	}
	return res
}

// source is a set of messages compared with gpsd: a capture or the
// synthetic messages.
type source struct {
	name    string
	samples []sample
}

func sources(t *testing.T) []source {
	var out []source
	for _, f := range captureFiles(t) {
		out = append(out, source{f, loadSamples(t, f)})
	}
	return append(out, source{synthGolden, synthSamples(8)})
}

// TestGPSDGoldenUpdate regenerates the golden files with -update.
func TestGPSDGoldenUpdate(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate the golden files with gpsdecode")
	}
	if _, err := exec.LookPath("gpsdecode"); err != nil {
		t.Fatal("gpsdecode not installed (Debian: gpsd-clients): cannot -update")
	}
	for _, src := range sources(t) {
		file, samples := src.name, src.samples
		outs := runGPSD(t, samples)
		var buf bytes.Buffer
		for i, s := range samples {
			g := golden{sample: s, GPSD: outs[i]}
			if len(g.GPSD) > 0 && g.GPSD[0] == '"' {
				json.Unmarshal(g.GPSD, &g.GPSDInvalid)
				g.GPSD = nil
			}
			b, err := json.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(goldenPath(file), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d messages", goldenPath(file), len(samples))
	}
}

// TestGPSDGoldenFresh checks that the committed golden files are what the
// installed gpsdecode prints (full runs only; fails without gpsdecode).
func TestGPSDGoldenFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("full runs only")
	}
	if _, err := exec.LookPath("gpsdecode"); err != nil {
		t.Fatal("gpsdecode not installed (scripts/setup.sh test installs gpsd-clients)")
	}
	for _, src := range sources(t) {
		file := src.name
		gold := loadGolden(t, file)
		samples := make([]sample, len(gold))
		for i, g := range gold {
			samples[i] = g.sample
		}
		outs := runGPSD(t, samples)
		for i, g := range gold {
			if len(outs[i]) > 0 && outs[i][0] == '"' {
				var inv string
				json.Unmarshal(outs[i], &inv)
				if inv != g.GPSDInvalid {
					t.Errorf("%s:%d: gpsdecode now prints %s, golden has %q", file, g.Line, inv, g.GPSDInvalid)
				}
				continue
			}
			if (len(outs[i]) == 0) != (len(g.GPSD) == 0) {
				t.Errorf("%s:%d: gpsdecode now prints %s, golden has %s", file, g.Line, outs[i], g.GPSD)
				continue
			}
			if len(g.GPSD) == 0 {
				continue
			}
			now, err1 := decodeJSONMap(outs[i])
			was, err2 := decodeJSONMap(g.GPSD)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if d := diffMaps(was, now); len(d) > 0 {
				t.Errorf("%s:%d: gpsdecode changed: %v", file, g.Line, d)
			}
		}
	}
}

func loadGolden(t *testing.T, capture string) []golden {
	data, err := os.ReadFile(goldenPath(capture))
	if err != nil {
		t.Fatalf("golden file missing (go test -run GPSDGoldenUpdate -update): %v", err)
	}
	var out []golden
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var g golden
		if err := json.Unmarshal(line, &g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

// decodeJSONMap parses a JSON object keeping numbers as their text, so
// that 1.0 and 1.00 differ like gpsd's printf formats do.
func decodeJSONMap(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

// diffMaps lists every field that differs between want (gpsd) and got.
func diffMaps(want, got map[string]any) []string {
	var keys []string
	seen := map[string]bool{}
	for k := range want {
		keys = append(keys, k)
		seen[k] = true
	}
	for k := range got {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var d []string
	for _, k := range keys {
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !gok:
			d = append(d, fmt.Sprintf("%s: missing (gpsd %v)", k, w))
		case !wok:
			d = append(d, fmt.Sprintf("%s: extra %v", k, g))
		default:
			wb, _ := json.Marshal(w)
			gb, _ := json.Marshal(g)
			if !bytes.Equal(wb, gb) {
				d = append(d, fmt.Sprintf("%s: gpsd %s, keelson %s", k, wb, gb))
			}
		}
	}
	return d
}

// gpsdKnown lists the documented differences from gpsd (see docs/ais.md):
// a message for which gpsdKnown returns a reason is not counted as a
// mismatch, but the reason must match what happened.
func gpsdKnown(g golden, m Message, err error) string {
	if g.GPSDInvalid != "" {
		return "gpsd prints invalid JSON (unescaped text)"
	}
	var dac, fi, typ int
	switch m := m.(type) {
	case *BinaryAddressed:
		dac, fi, typ = int(m.DAC), int(m.FI), 6
	case *BinaryBroadcast:
		dac, fi, typ = int(m.DAC), int(m.FI), 8
	}
	if gpsdOnlyApps[[3]int{typ, dac, fi}] {
		return "application message that gpsd decodes and Keelson keeps as raw data"
	}
	return ""
}

// gpsdOnlyApps are the application messages that gpsd decodes into fields
// and Keelson does not (yet): see docs/ais.md.
var gpsdOnlyApps = map[[3]int]bool{}

// TestGPSDGolden compares AppendGPSD with gpsdecode -j, field by field,
// on every message of every capture.
func TestGPSDGolden(t *testing.T) {
	var d Decoder
	type stat struct{ n, ok, same, rejected, silent, known, bad int }
	byType := map[string]*stat{}
	bySource := map[string]*stat{}
	total := 0
	var failures []string
	for _, src := range sources(t) {
		file, samples := src.name, src.samples
		gold := loadGolden(t, file)
		if len(gold) != len(samples) {
			t.Fatalf("%s: %d messages, golden has %d: regenerate with -update", file, len(samples), len(gold))
		}
		for i, g := range gold {
			if g.Payload != samples[i].Payload || g.Fill != samples[i].Fill {
				t.Fatalf("%s:%d: golden out of date: regenerate with -update", file, g.Line)
			}
			total++
			m, err := d.Decode([]byte(g.Payload), g.Fill)
			key := "error"
			if err == nil {
				key = fmt.Sprintf("type %02d", m.Type())
				switch b := m.(type) {
				case *BinaryBroadcast:
					if b.App != nil {
						key += fmt.Sprintf(" %T", b.App)
					}
				case *BinaryAddressed:
					if b.App != nil {
						key += fmt.Sprintf(" %T", b.App)
					}
				}
			} else if len(g.GPSD) > 0 {
				var h struct{ Type int }
				json.Unmarshal(g.GPSD, &h)
				key = fmt.Sprintf("type %02d", h.Type)
			}
			st := byType[key]
			if st == nil {
				st = &stat{}
				byType[key] = st
			}
			srcKey := "source " + filepath.Base(file)
			if bySource[srcKey] == nil {
				bySource[srcKey] = &stat{}
			}
			ss := bySource[srcKey]
			ss.n++
			st.n++
			where := fmt.Sprintf("%s:%d %s,%d", filepath.Base(file), g.Line, g.Payload, g.Fill)
			if reason := gpsdKnown(g, m, err); reason != "" {
				st.known++
				ss.known++
				continue
			}
			switch {
			case len(g.GPSD) == 0 && err != nil:
				st.ok++
				ss.ok++
				st.rejected++
				ss.rejected++
			case len(g.GPSD) == 0 && len(m.AppendGPSD(nil)) == 0:
				st.ok++
				ss.ok++ // Keelson decodes what gpsd rejects, and prints nothing for gpsd either
				st.silent++
				ss.silent++
			case len(g.GPSD) == 0:
				st.bad++
				ss.bad++
				failures = append(failures, fmt.Sprintf("%s: gpsd rejects, keelson decodes type %d", where, m.Type()))
			case err != nil:
				st.bad++
				ss.bad++
				failures = append(failures, fmt.Sprintf("%s: keelson error %v, gpsd %s", where, err, g.GPSD))
			default:
				got := m.AppendGPSD(nil)
				wm, err1 := decodeJSONMap(g.GPSD)
				gm, err2 := decodeJSONMap(got)
				if err1 != nil || err2 != nil {
					st.bad++
					ss.bad++
					failures = append(failures, fmt.Sprintf("%s: invalid JSON %v %v: %s", where, err1, err2, got))
					continue
				}
				if diff := diffMaps(wm, gm); len(diff) > 0 {
					st.bad++
					ss.bad++
					failures = append(failures, fmt.Sprintf("%s: %s", where, strings.Join(diff, "; ")))
					continue
				}
				st.ok++
				ss.ok++
				st.same++
				ss.same++
			}
		}
	}
	var keys []string
	for k := range byType {
		keys = append(keys, k)
	}
	for k, v := range bySource {
		keys = append(keys, k)
		byType[k] = v
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := byType[k]
		t.Logf("%s: %5d messages, %5d agree (%5d identical objects, %3d both reject, %3d gpsd and AppendGPSD print nothing), %d documented differences, %d mismatches",
			k, s.n, s.ok, s.same, s.rejected, s.silent, s.known, s.bad)
	}
	t.Logf("total %d messages", total)
	for i, f := range failures {
		if i == *maxReport {
			t.Errorf("... and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
}
