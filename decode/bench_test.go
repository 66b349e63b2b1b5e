package decode

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	goais "github.com/BertoldVdb/go-ais"
	"github.com/BertoldVdb/go-ais/aisnmea"
	"github.com/adrianmo/go-nmea"

	"github.com/keelson/keelson"
)

// corpusLines is the size of the benchmark corpus: all of testdata/ais
// repeated (built at test time, never committed).
const corpusLines = 1_000_000

var (
	corpusOnce sync.Once
	corpus     [][]byte
)

// benchCorpus returns about a million lines: every line of every file in
// testdata/ais, in file order, repeated.
func benchCorpus(b *testing.B) [][]byte {
	corpusOnce.Do(func() {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "ais", "*"))
		var one [][]byte
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				one = append(one, append([]byte(nil), sc.Bytes()...))
			}
		}
		for len(corpus) < corpusLines {
			corpus = append(corpus, one...)
		}
		runtime.GC() // not in the first timed benchmark
	})
	if len(corpus) == 0 {
		b.Fatal("no corpus")
	}
	return corpus
}

// WriteCorpus writes the benchmark corpus to path (for timing the command:
// KEELSON_CORPUS=/tmp/corpus.nmea go test -run TestWriteCorpus ./decode).
func TestWriteCorpus(t *testing.T) {
	path := os.Getenv("KEELSON_CORPUS")
	if path == "" {
		t.Skip("KEELSON_CORPUS not set")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, l := range benchCorpus(&testing.B{}) {
		w.Write(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// reportRate reports messages per second of wall-clock time and per
// second of this process's CPU time (since cpu0): on a shared machine the
// second is the fairer figure.
func reportRate(b *testing.B, msgs int, cpu0 time.Duration) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(msgs)/cpu.Seconds(), "msgs/cpu-s")
	}
}

// cpuTime returns the user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCorpus decodes the corpus line by line (one line per op), in
// the same run as the baseline: go-nmea v1.10.0 + go-ais v0.4.0.
func BenchmarkCorpus(b *testing.B) {
	lines := benchCorpus(b)
	b.Run("keelson-none", func(b *testing.B) {
		d := NewDecoder(Config{})
		msgs := 0
		fn := func(m *Message) { msgs++ }
		b.ReportAllocs()
		i := 0
		cpu0 := cpuTime()
		for b.Loop() {
			d.Scan(lines[i], time.Time{}, fn)
			if i++; i == len(lines) {
				i = 0
			}
		}
		reportRate(b, msgs, cpu0)
	})
	// Keelson event JSON (Event.AppendJSON) to io.Discard: "keelson-json"
	// as keelson decode -format json writes it, "keelson-json-wire" as it
	// travels on Kafka by default (position events without the duplicate
	// full AIS message, which is then not built).
	for _, jc := range []struct {
		name string
		cfg  Config
	}{{"keelson-json", Config{}}, {"keelson-json-wire", Config{OmitPositionAIS: true}}} {
		b.Run(jc.name, func(b *testing.B) {
			d := NewDecoder(jc.cfg)
			msgs := 0
			var ev keelson.Event
			buf := make([]byte, 0, 128<<10)
			recv := time.Now().UTC()
			fn := func(m *Message) {
				msgs++
				d.Fill(&ev, m, recv)
				buf = ev.AppendJSON(buf)
				buf = append(buf, '\n')
			}
			b.ReportAllocs()
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				d.Scan(lines[i], recv, fn)
				if len(buf) > 64<<10 {
					io.Discard.Write(buf)
					buf = buf[:0]
				}
				if i++; i == len(lines) {
					i = 0
				}
			}
			reportRate(b, msgs, cpu0)
		})
	}
	b.Run("keelson-gpsd", func(b *testing.B) {
		d := NewDecoder(Config{})
		msgs := 0
		buf := make([]byte, 0, 128<<10)
		fn := func(m *Message) {
			msgs++
			buf = m.AIS.AppendGPSD(buf)
			buf = append(buf, '\n')
		}
		b.ReportAllocs()
		i := 0
		cpu0 := cpuTime()
		for b.Loop() {
			d.Scan(lines[i], time.Time{}, fn)
			if len(buf) > 64<<10 {
				io.Discard.Write(buf)
				buf = buf[:0]
			}
			if i++; i == len(lines) {
				i = 0
			}
		}
		reportRate(b, msgs, cpu0)
	})
	b.Run("keelson-events", func(b *testing.B) {
		// The collector's path: Decode appends fresh events, then JSON.
		d := NewDecoder(Config{})
		msgs := 0
		var evs []keelson.Event
		buf := make([]byte, 0, 128<<10)
		recv := time.Now().UTC()
		b.ReportAllocs()
		i := 0
		cpu0 := cpuTime()
		for b.Loop() {
			evs, _ = d.Decode(evs[:0], lines[i], recv)
			for j := range evs {
				buf = evs[j].AppendJSON(buf)
				buf = append(buf, '\n')
			}
			msgs += len(evs)
			if len(buf) > 64<<10 {
				io.Discard.Write(buf)
				buf = buf[:0]
			}
			if i++; i == len(lines) {
				i = 0
			}
		}
		reportRate(b, msgs, cpu0)
	})
	b.Run("baseline-goais", func(b *testing.B) {
		// The best released Go path: aisnmea (go-nmea v1.10.0 parsing and
		// reassembly) + go-ais v0.4.0 CodecNewFast(false, false, true). It
		// is given the bare sentences (receive-time prefixes and receiver
		// trailers cut off outside the timed loop), as strings.
		sentences := make([]string, len(lines))
		for i, l := range lines {
			if _, rest := LeadingTime(l); len(rest) > 0 {
				l = rest
			}
			if k := bytes.IndexByte(l, '*'); k >= 0 && k+3 <= len(l) {
				l = l[:k+3]
			}
			sentences[i] = string(l)
		}
		nc := aisnmea.NMEACodecNew(goais.CodecNewFast(false, false, true))
		msgs := 0
		b.ReportAllocs()
		i := 0
		cpu0 := cpuTime()
		for b.Loop() {
			p, err := nc.ParseSentence(sentences[i])
			if err == nil && p != nil && p.Packet != nil {
				msgs++
			}
			if i++; i == len(sentences) {
				i = 0
			}
		}
		reportRate(b, msgs, cpu0)
	})
}

// BenchmarkPositionReport decodes one single-sentence class A position
// report (dma_ais250.txt): the zero-allocation hot path.
func BenchmarkPositionReport(b *testing.B) {
	line := []byte("!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58")
	d := NewDecoder(Config{})
	n := 0
	fn := func(m *Message) { n++ }
	b.ReportAllocs()
	for b.Loop() {
		d.Scan(line, time.Time{}, fn)
	}
	if n == 0 {
		b.Fatal("no message")
	}
}

// BenchmarkPositionReportJSON adds the event and its JSON.
func BenchmarkPositionReportJSON(b *testing.B) {
	line := []byte("!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58")
	d := NewDecoder(Config{})
	var ev keelson.Event
	buf := make([]byte, 0, 4096)
	recv := time.Now().UTC()
	fn := func(m *Message) {
		d.Fill(&ev, m, recv)
		buf = ev.AppendJSON(buf[:0])
	}
	b.ReportAllocs()
	for b.Loop() {
		d.Scan(line, recv, fn)
	}
}

// BenchmarkOwnShip decodes own-ship sentences through go-nmea.
func BenchmarkOwnShip(b *testing.B) {
	lines := [][]byte{
		[]byte("$GPRMC,030719.000,A,3747.0873,S,17518.8938,E,0.69,181.39,311214,,,A*7D"),
		[]byte("$SDHDG,229.8,,,1.3,E*36"),
		[]byte("$WIMWV,57.5,R,13.0,N,A*26"),
		[]byte("$SDDPT,5.3,0.4,*79"),
	}
	d := NewDecoder(Config{})
	var evs []keelson.Event
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		evs, _ = d.Decode(evs[:0], lines[i&3], time.Time{})
		i++
	}
}

// BenchmarkFramingAIS compares framing alone (no payload decoding) on the
// corpus's AIS lines: package decode's Frame + ParseAIS against go-nmea
// v1.10.0's SentenceParser.Parse (which also splits the VDM fields), the
// reason the AIS path does not go through go-nmea.
func BenchmarkFramingAIS(b *testing.B) {
	var ais [][]byte
	for _, l := range benchCorpus(b) {
		if _, rest := LeadingTime(l); len(rest) > 0 {
			l = rest
		}
		if bytes.HasPrefix(l, []byte("!")) && bytes.Contains(l, []byte("VDM,")) {
			if k := bytes.IndexByte(l, '*'); k >= 0 && k+3 <= len(l) {
				ais = append(ais, l[:k+3])
			}
		}
		if len(ais) == 100000 {
			break
		}
	}
	b.Run("keelson", func(b *testing.B) {
		var s Sentence
		var f AISFields
		ok := 0
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := Frame(&s, ais[i], false); err == nil && ParseAIS(&f, s.Fields) == nil {
				ok++
			}
			if i++; i == len(ais) {
				i = 0
			}
		}
		if ok == 0 {
			b.Fatal("nothing framed")
		}
	})
	b.Run("go-nmea", func(b *testing.B) {
		p := nmea.SentenceParser{}
		ok := 0
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := p.Parse(string(ais[i])); err == nil {
				ok++
			}
			if i++; i == len(ais) {
				i = 0
			}
		}
		if ok == 0 {
			b.Fatal("nothing parsed")
		}
	})
}
