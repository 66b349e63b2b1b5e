package decode

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/decode/ais"
)

// TestCountsAIS checks every AIS capture's counts. "payloads" is the number
// of complete AIS payloads (single sentences plus completed multi-sentence
// groups) found by an independent count: a Python script doing its own
// framing, checksums and reassembly (scripts in the commit message of the
// test). messages + ais errors must equal it; messages is then the number
// of payloads that package decode/ais accepts.
//
// gpsdecode -j (gpsd 3.25) writes fewer objects: it drops the sentences of
// talkers "--" and "BY" (dma_stream_example.txt: 31), sentences behind a
// literal "\r\n" text in a line (dma_ais250.txt: the 8 type 5 messages),
// merges type 24 part A into part B, and refuses some malformed payloads
// that decode/ais also refuses (libais_test.aivdm, pyais sample).
func TestCountsAIS(t *testing.T) {
	tests := []struct {
		file                        string
		lines, payloads, messages   uint64
		aisErrors, duplicates, lost uint64
		gpsdecode                   int // objects written by gpsdecode -j, for reference
	}{
		{"dma_ais250.txt", 243, 243, 243, 0, 0, 0, 222},
		{"dma_decode_encode_messages.txt", 646, 601, 601, 0, 0, 0, 585},
		{"dma_stream_example.txt", 8551, 4051, 4051, 0, 0, 0, 3951},
		{"goais_aistest.nmea", 998, 905, 904, 1, 0, 8, 882},
		{"libais_tagblock.nmea", 5, 4, 4, 0, 0, 0, 4},
		{"libais_test.aivdm", 345, 261, 226, 35, 0, 0, 210},
		{"libais_typeexamples.nmea", 26, 26, 26, 0, 0, 0, 25},
		{"pyais_nmea_data_sample.txt", 898, 878, 778, 100, 0, 20, 776},
	}
	var total uint64
	for _, tt := range tests {
		evs, s := decodeFile(t, filepath.Join("..", "testdata", "ais", tt.file), Config{})
		if s.Lines != tt.lines || s.Messages != tt.messages || s.ByError["ais"] != tt.aisErrors ||
			s.ByError["duplicate_fragment"] != tt.duplicates || s.ByError["fragment_lost"] != tt.lost ||
			s.Errors != tt.aisErrors+tt.duplicates+tt.lost || s.Messages+s.ByError["ais"] != tt.payloads {
			t.Errorf("%s: stats %+v", tt.file, s)
		}
		if uint64(len(evs)) != s.Messages {
			t.Errorf("%s: %d events for %d messages", tt.file, len(evs), s.Messages)
		}
		for i := range evs {
			if e := &evs[i]; e.AISType == 0 || len(e.AIS) == 0 || e.Source.Talker == "" || e.V != keelson.SchemaVersion {
				t.Fatalf("%s: event %d: %+v", tt.file, i, e)
			}
		}
		total += s.Messages
	}
	if total != 6833 {
		t.Errorf("%d AIS messages in all captures", total)
	}
}

// TestTagBlockGroup reassembles the ORBCOMM message whose fragments are
// grouped by tag block (g:1-2-1604, g:2-2-1604) around other sentences.
func TestTagBlockGroup(t *testing.T) {
	evs, s := decodeFile(t, filepath.Join("..", "testdata", "ais", "libais_tagblock.nmea"), Config{})
	if len(evs) != 4 || s.Errors != 0 {
		t.Fatalf("%d events, stats %+v", len(evs), s)
	}
	// In completion order: the type 1 of line 2, then the type 5 of lines 1+3.
	e := evs[1]
	if e.AISType != 5 || e.MMSI != 219005012 || e.Source.Station != "rORBCOMM008" || e.Source.Channel != "A" ||
		!e.TagTime.Equal(time.Unix(1418169601, 0)) || e.Flags != 0 || e.Static == nil && e.Kind == keelson.KindStatic {
		t.Errorf("type 5: %+v", e)
	}
	if evs[0].AISType != 1 || evs[0].Source.Station != "rORBCOMM104" || !evs[0].TagTime.Equal(time.Unix(1418172113, 0)) {
		t.Errorf("type 1: %+v", evs[0])
	}
}

func TestGatehouseTime(t *testing.T) {
	// dma_stream_example.txt: each $PGHP carries the reception time of the
	// next !AIVDM; the sentence after a used one gets none of it.
	lines := []string{
		"$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B",
		"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B",
		"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B",
		"$PGHP,1,2010,6,11,11,46,11,929,244,0,,1,72*21",
		"!AIVDM,2,1,1,,53cMa3@000010WSW?V105=<45B2222222222220t388151:9e2UiDm851DTh,0*65",
		"!AIVDM,2,2,1,,j1C32CQp888,2*17",
	}
	d := NewDecoder(Config{})
	var evs []keelson.Event
	for _, l := range lines {
		var err error
		if evs, err = d.Decode(evs, []byte(l), recv0); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Time{time.Date(2010, 6, 11, 11, 46, 11, 390e6, time.UTC), {}, time.Date(2010, 6, 11, 11, 46, 11, 929e6, time.UTC)}
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	for i, e := range evs {
		if !e.TagTime.Equal(want[i]) || !e.Received.Equal(recv0) {
			t.Errorf("event %d: tag time %v received %v", i, e.TagTime, e.Received)
		}
	}
	if evs[2].AISType != 5 || evs[2].Source.Channel != "" {
		t.Errorf("type 5: %+v", evs[2])
	}
}

func TestReceiveTimePrefix(t *testing.T) {
	d := NewDecoder(Config{})
	// goais_aistest.nmea, first line.
	evs, err := d.Decode(nil, []byte("1550303566167726840 !AIVDM,1,1,,B,10bb7q@P0lPGHlVMhbl0Qgw>2>`<,0*7F\n"), recv0)
	if err != nil || len(evs) != 1 || !evs[0].TagTime.Equal(time.Unix(0, 1550303566167726840)) || evs[0].AISType != 1 {
		t.Fatalf("%v %+v", err, evs)
	}
}

func TestOwnShipAIS(t *testing.T) {
	d := NewDecoder(Config{OwnMMSI: 219000000, Vessel: "Keelson"})
	// dma_stream_example.txt: !BSVDO is the base station's own report.
	evs, err := d.Decode(nil, []byte("!BSVDO,1,1,,B,4025bvQuaUcf<0hJ2FQ2M2A005Jp,0*34"), recv0)
	if err != nil || len(evs) != 1 {
		t.Fatal(err, evs)
	}
	e := evs[0]
	if e.Flags&keelson.FlagOwnShip == 0 || e.Vessel != "Keelson" || e.MMSI == 219000000 || e.AISType != 4 || e.Source.Talker != "BS" {
		t.Errorf("%+v", e)
	}
}

// TestGoodAroundBad: a bad sentence costs itself only.
func TestGoodAroundBad(t *testing.T) {
	good := "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B"
	frag1 := "!AIVDM,2,1,1,,53cMa3@000010WSW?V105=<45B2222222222220t388151:9e2UiDm851DTh,0*65"
	frag2 := "!AIVDM,2,2,1,,j1C32CQp888,2*17"
	tests := []struct {
		line    string
		events  int
		wantErr error
	}{
		{good, 1, nil},
		{strings.Replace(good, "*2B", "*2C", 1), 0, ErrChecksum},
		{frag1, 0, nil},
		{"garbage", 0, ErrNoSentence},
		{"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025J", 0, ErrNoChecksum}, // truncated
		{strings.Repeat("x", 2000) + good, 0, ErrLineTooLong},
		{frag2, 1, nil},
		{"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9I!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B", 1, ErrNoChecksum},
		{good + "\r\n" + good, 2, nil},                                     // two sentences in one line
		{string(withChecksum("!AIVDM,1,1,,B,0000000000,0*00")), 0, ErrAIS}, // type 0
		{string(withChecksum("!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,7*00")), 0, ErrMalformed},
		{string(withChecksum("!AIVDM,3,4,1,B,402=481uaUcf;OQ55JS9ITi025Jp,0*00")), 0, ErrFragment},
		{"# comment", 0, nil},
		{"", 0, nil},
		{good, 1, nil},
	}
	d := NewDecoder(Config{})
	var errs, events uint64
	for _, tt := range tests {
		evs, err := d.Decode(nil, []byte(tt.line), recv0)
		if len(evs) != tt.events || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("%.60q: %d events, err %v; want %d, %v", tt.line, len(evs), err, tt.events, tt.wantErr)
		}
		if err != nil {
			errs++
		}
		events += uint64(len(evs))
	}
	s := d.Stats()
	if s.Errors != errs || s.Messages != events || s.Lines != uint64(len(tests)) {
		t.Errorf("stats %+v", s)
	}
	for _, name := range []string{"checksum", "no_sentence", "no_checksum", "line_too_long", "ais", "malformed", "fragment"} {
		if s.ByError[name] == 0 {
			t.Errorf("no %s in %v", name, s.ByError)
		}
	}
}

func TestLenient(t *testing.T) {
	bad := "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C"
	d := NewDecoder(Config{Lenient: true})
	evs, err := d.Decode(nil, []byte(bad), recv0)
	if err != nil || len(evs) != 1 || evs[0].Flags&keelson.FlagChecksumBad == 0 {
		t.Fatalf("%v %+v", err, evs)
	}
	// A bad checksum on one fragment flags the whole message.
	d.Decode(nil, []byte("!AIVDM,2,1,1,,53cMa3@000010WSW?V105=<45B2222222222220t388151:9e2UiDm851DTh,0*65"), recv0)
	evs, err = d.Decode(nil, []byte("!AIVDM,2,2,1,,j1C32CQp888,2*18"), recv0)
	if err != nil || len(evs) != 1 || evs[0].Flags&keelson.FlagChecksumBad == 0 || evs[0].AISType != 5 {
		t.Fatalf("%v %+v", err, evs)
	}
}

func TestKeepRaw(t *testing.T) {
	d := NewDecoder(Config{KeepRaw: true})
	l1 := "!AIVDM,2,1,1,,53cMa3@000010WSW?V105=<45B2222222222220t388151:9e2UiDm851DTh,0*65"
	l2 := "!AIVDM,2,2,1,,j1C32CQp888,2*17"
	d.Decode(nil, []byte(l1+"\r\n"), recv0)
	evs, _ := d.Decode(nil, []byte(l2), recv0)
	if len(evs) != 1 || len(evs[0].Raw) != 2 || evs[0].Raw[0] != l1 || evs[0].Raw[1] != l2 {
		t.Fatalf("%+v", evs)
	}
}

func TestScanAllocs(t *testing.T) {
	d := NewDecoder(Config{})
	line := []byte("!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58") // dma_ais250.txt
	n := 0
	fn := func(m *Message) { n++ }
	if a := testing.AllocsPerRun(1000, func() { d.Scan(line, recv0, fn) }); a != 0 {
		t.Errorf("Scan: %v allocations per position report", a)
	}
	var ev keelson.Event
	fill := func(m *Message) { d.Fill(&ev, m, recv0) }
	d.Scan(line, recv0, fill)
	a := testing.AllocsPerRun(1000, func() { d.Scan(line, recv0, fill) })
	t.Logf("Scan+Fill into a reused event: %v allocations per position report", a)
	if n == 0 {
		t.Fatal("no messages")
	}
}

// TestPayloadsAgainstAISGolden cross-checks the framing and reassembly with
// the independent extraction of decode/ais's golden files
// (decode/ais/testdata/gpsd/*.jsonl: every message of every capture with
// what gpsdecode -j made of it): every payload there that gpsd decoded is
// one that the Decoder decodes too, as often.
func TestPayloadsAgainstAISGolden(t *testing.T) {
	goldens, _ := filepath.Glob(filepath.Join("ais", "testdata", "gpsd", "*.jsonl"))
	if len(goldens) == 0 {
		t.Fatal("no golden files in decode/ais/testdata/gpsd")
	}
	checked := 0
	for _, g := range goldens {
		capture := filepath.Join("..", "testdata", "ais", strings.TrimSuffix(filepath.Base(g), ".jsonl"))
		if _, err := os.Stat(capture); err != nil {
			continue // synthetic samples
		}
		ours := map[string]int{}
		d := NewDecoder(Config{})
		f, err := os.Open(capture)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			d.Scan(sc.Bytes(), recv0, func(m *Message) {
				ours[string(m.Payload)+","+strconv.Itoa(m.Fill)]++
			})
		}
		f.Close()
		gf, err := os.Open(g)
		if err != nil {
			t.Fatal(err)
		}
		sc = bufio.NewScanner(gf)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var s struct {
				Payload string          `json:"payload"`
				Fill    int             `json:"fill"`
				GPSD    json.RawMessage `json:"gpsd"`
			}
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Fatalf("%s: %v", g, err)
			}
			if len(s.GPSD) == 0 {
				continue // gpsd refused it
			}
			k := s.Payload + "," + strconv.Itoa(s.Fill)
			if ours[k] == 0 {
				t.Errorf("%s: payload %s decoded by gpsd, not by the Decoder", filepath.Base(capture), k)
				continue
			}
			ours[k]--
			checked++
		}
		gf.Close()
	}
	if checked < 6000 {
		t.Errorf("only %d payloads checked", checked)
	}
}

// TestGatehouseMinuteMemo: headers of the same minute (read through the
// memo of the last header's date and minute), of the next minute, of
// another day, and bad ones in between, each against the full parse.
func TestGatehouseMinuteMemo(t *testing.T) {
	sentence := func(body string) string {
		var cs byte
		for i := 1; i < len(body); i++ {
			cs ^= body[i]
		}
		return fmt.Sprintf("%s*%02X", body, cs)
	}
	ais := []byte("!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B")
	d := NewDecoder(Config{})
	for _, c := range []struct {
		fields string
		want   time.Time // zero: the header is malformed
	}{
		{"1,2010,6,11,11,46,11,390,231,45,992190934,1,2B", time.Date(2010, 6, 11, 11, 46, 11, 390e6, time.UTC)},
		{"1,2010,6,11,11,46,12,7,231", time.Date(2010, 6, 11, 11, 46, 12, 7e6, time.UTC)},
		{"1,2010,6,11,11,46,59,999", time.Date(2010, 6, 11, 11, 46, 59, 999e6, time.UTC)},
		{"1,2010,6,11,11,46,12,1000", time.Time{}},
		{"1,2010,6,11,11,46,61,0", time.Time{}},
		{"1,2010,6,11,11,46,1x,0", time.Time{}},
		{"1,2010,6,11,11,46,12", time.Time{}},
		{"1,2010,6,11,11,46,,12", time.Time{}},
		{"1,2010,6,11,11,46,60,0", time.Date(2010, 6, 11, 11, 47, 0, 0, time.UTC)},
		{"1,2010,6,11,11,47,0,1", time.Date(2010, 6, 11, 11, 47, 0, 1e6, time.UTC)},
		{"1,2010,6,12,11,47,0,2", time.Date(2010, 6, 12, 11, 47, 0, 2e6, time.UTC)},
		{"1,2010,6,1,11,47,0,3", time.Date(2010, 6, 1, 11, 47, 0, 3e6, time.UTC)},
		{"1,2010,6,12,11,47,5,4", time.Date(2010, 6, 12, 11, 47, 5, 4e6, time.UTC)},
		{"1,2010,13,12,11,47,5,4", time.Time{}},
		{"1,2010,6,12,11,47,6,5", time.Date(2010, 6, 12, 11, 47, 6, 5e6, time.UTC)},
	} {
		line := sentence("$PGHP," + c.fields)
		_, err := d.Decode(nil, []byte(line), recv0)
		if c.want.IsZero() {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", line, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		evs, err := d.Decode(nil, ais, recv0)
		if err != nil || len(evs) != 1 || !evs[0].TagTime.Equal(c.want) {
			t.Errorf("%s: tag time %v (%v), want %v", line, evs[0].TagTime, err, c.want)
		}
	}
}

// TestAISError: the error of a payload that does not decode matches
// ErrAIS and the decode/ais error, reads as fmt.Errorf("%w: %w") would,
// and is counted under "ais" (errorIndex's fast path).
func TestAISError(t *testing.T) {
	d := NewDecoder(Config{})
	_, err := d.Decode(nil, []byte("!AIVDM,1,1,,A,1,0*17"), recv0) // one character: too short
	if !errors.Is(err, ErrAIS) || !errors.Is(err, ais.ErrShort) {
		t.Fatalf("err %v", err)
	}
	var se *SentenceError
	if !errors.As(err, &se) {
		t.Fatalf("err %T", err)
	}
	if want := fmt.Errorf("%w: %w", ErrAIS, se.Err.(*aisError).err).Error(); se.Err.Error() != want {
		t.Errorf("Error() %q, want %q", se.Err.Error(), want)
	}
	if ErrorName(err) != "ais" || errorNames[errorIndex(err)].name != "ais" || d.Stats().ByError["ais"] != 1 {
		t.Errorf("counted as %q / %v", ErrorName(err), d.Stats().ByError)
	}
}

// TestTagBlockDoesNotLeak: a line without a tag block after one with a tag
// block (libais_tagblock.nmea) gets none of it (the Decoder's Sentence is
// reused).
func TestTagBlockDoesNotLeak(t *testing.T) {
	d := NewDecoder(Config{})
	evs, err := d.Decode(nil, []byte(`\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*55\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`+"`"+`iToV0<00,0*78`), recv0)
	if err != nil || len(evs) != 1 || evs[0].Source.Station != "rORBCOMM104" || evs[0].TagTime.IsZero() {
		t.Fatalf("with tag block: %v %+v", err, evs)
	}
	evs, err = d.Decode(nil, []byte("!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58"), recv0)
	if err != nil || len(evs) != 1 || evs[0].Source.Station != "" || !evs[0].TagTime.IsZero() {
		t.Fatalf("without: %v %+v", err, evs)
	}
}
