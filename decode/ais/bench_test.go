package ais

import (
	"syscall"
	"testing"
	"time"

	goais "github.com/BertoldVdb/go-ais"
)

const (
	benchType1     = "15N1u<PP1FJuvSRHOE6QIwwh0HQ6" // libais_typeexamples.nmea:2
	benchType5     = "53eaFL02?;fwTPm7V219E@R1@PE8E<622222221@9hG1A7?@NCPSlm3kc5DhH8888888880"
	benchType5Fill = 2
	benchType18    = "B5NIeAP00=qmw14cRKvQSwm5WP06" // dma_ais250.txt:1
)

// cpuTime returns the process's user+system CPU time. The benchmarks
// report it per op ("cpu-ns/op") next to the wall time, because the 2-core
// machine they run on is shared and wall time includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports cpu-ns/op when stopped.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter {
	b.ReportAllocs()
	b.ResetTimer()
	return cpuMeter{b, cpuTime()}
}

func (c cpuMeter) stop() {
	c.b.StopTimer()
	c.b.ReportMetric(float64(cpuTime()-c.start)/float64(c.b.N), "cpu-ns/op")
}

func benchDecode(b *testing.B, payload string, fill int) {
	var d Decoder
	p := []byte(payload)
	if _, err := d.Decode(p, fill); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		if _, err := d.Decode(p, fill); err != nil {
			b.Fatal(err)
		}
	}
	c.stop()
}

func BenchmarkDecodeType1(b *testing.B)  { benchDecode(b, benchType1, 0) }
func BenchmarkDecodeType18(b *testing.B) { benchDecode(b, benchType18, 0) }
func BenchmarkDecodeType5(b *testing.B)  { benchDecode(b, benchType5, benchType5Fill) }

// benchCorpus returns the payloads of every real capture.
func benchCorpus(b *testing.B) ([][]byte, []int) {
	var ps [][]byte
	var fs []int
	for _, s := range allSamples(b) {
		ps = append(ps, []byte(s.Payload))
		fs = append(fs, s.Fill)
	}
	return ps, fs
}

// BenchmarkDecodeMix decodes every message of the real captures in turn
// (errors included, as in real traffic); one op is one message.
func BenchmarkDecodeMix(b *testing.B) {
	ps, fs := benchCorpus(b)
	var d Decoder
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		j := i % len(ps)
		d.Decode(ps[j], fs[j])
	}
	c.stop()
}

func benchAppend(b *testing.B, gpsd bool) {
	ps, fs := benchCorpus(b)
	var d Decoder
	var msgs []Message
	for j := range ps {
		if m, err := d.Decode(ps[j], fs[j]); err == nil {
			msgs = append(msgs, m.Clone())
		}
	}
	buf := make([]byte, 0, 4096)
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		if gpsd {
			buf = m.AppendGPSD(buf[:0])
		} else {
			buf = m.AppendJSON(buf[:0])
		}
	}
	c.stop()
}

// BenchmarkAppendJSONMix writes Keelson's JSON of every decoded message in turn.
func BenchmarkAppendJSONMix(b *testing.B) { benchAppend(b, false) }

// BenchmarkAppendGPSDMix writes gpsd's JSON of every decoded message in turn.
func BenchmarkAppendGPSDMix(b *testing.B) { benchAppend(b, true) }

func BenchmarkAppendJSONType1(b *testing.B) {
	var d Decoder
	m, _ := d.Decode([]byte(benchType1), 0)
	buf := make([]byte, 0, 1024)
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		buf = m.AppendJSON(buf[:0])
	}
	c.stop()
}

// goaisBits converts a payload to go-ais's input, one byte per bit (what
// go-nmea's VDMVDO.Payload holds); part of the baseline's cost.
func goaisBits(dst []byte, payload []byte, fill int) []byte {
	dst = dst[:0]
	for _, c := range payload {
		v := armor[c]
		for k := 5; k >= 0; k-- {
			dst = append(dst, (v>>k)&1)
		}
	}
	return dst[:max(len(dst)-fill, 0)]
}

func benchGoAIS(b *testing.B, c *goais.Codec, ps [][]byte, fs []int) {
	bits := make([]byte, 0, 8192)
	cm := startCPU(b)
	for i := 0; i < b.N; i++ {
		j := i % len(ps)
		bits = goaisBits(bits, ps[j], fs[j])
		c.DecodePacket(bits)
	}
	cm.stop()
}

// Baselines: github.com/BertoldVdb/go-ais v0.4.0 on the same payloads.
func BenchmarkGoAISType1(b *testing.B) {
	benchGoAIS(b, goais.CodecNew(false, false), [][]byte{[]byte(benchType1)}, []int{0})
}

func BenchmarkGoAISFastType1(b *testing.B) {
	benchGoAIS(b, goais.CodecNewFast(false, false, true), [][]byte{[]byte(benchType1)}, []int{0})
}

func BenchmarkGoAISType5(b *testing.B) {
	benchGoAIS(b, goais.CodecNew(false, false), [][]byte{[]byte(benchType5)}, []int{benchType5Fill})
}

func BenchmarkGoAISMix(b *testing.B) {
	ps, fs := benchCorpus(b)
	benchGoAIS(b, goais.CodecNew(false, false), ps, fs)
}

func BenchmarkGoAISFastMix(b *testing.B) {
	ps, fs := benchCorpus(b)
	benchGoAIS(b, goais.CodecNewFast(false, false, true), ps, fs)
}
