package ais

import (
	"bytes"
	"errors"
	"testing"
)

// decodeRef decodes with the reference decoders of messages_ref_gen_test.go:
// the same table walked with checked, sequential reads only.
func (d *Decoder) decodeRef(payload []byte, fill int) (Message, error) {
	bits, err := Unarmor(d.bits, payload, fill)
	if err != nil {
		return nil, err
	}
	d.bits = bits.buf
	r, t, err := d.start(bits)
	if err != nil {
		return nil, err
	}
	m := d.msgs.decodeTypeRef(t, &r)
	return d.finish(m, t, &r)
}

// checkRef compares the fast and the reference decoders on one payload.
func checkRef(t *testing.T, fast, ref *Decoder, payload []byte, fill int) {
	t.Helper()
	m1, err1 := fast.Decode(payload, fill)
	m2, err2 := ref.decodeRef(payload, fill)
	if (err1 == nil) != (err2 == nil) || (err1 != nil && !errors.Is(err2, errors.Unwrap(err1)) && err1.Error() != err2.Error()) {
		t.Fatalf("%q,%d: fast error %v, reference error %v", payload, fill, err1, err2)
	}
	if err1 != nil {
		return
	}
	if j1, j2 := m1.AppendJSON(nil), m2.AppendJSON(nil); !bytes.Equal(j1, j2) {
		t.Fatalf("%q,%d: fast and reference differ:\n%s\n%s", payload, fill, j1, j2)
	}
	if g1, g2 := m1.AppendGPSD(nil), m2.AppendGPSD(nil); !bytes.Equal(g1, g2) {
		t.Fatalf("%q,%d: fast and reference gpsd JSON differ:\n%s\n%s", payload, fill, g1, g2)
	}
}

// TestFastEqualsReference checks the generated fast decoders (unchecked
// reads at the offsets the table fixes) against the reference decoders on
// every real and synthetic message.
func TestFastEqualsReference(t *testing.T) {
	var fast, ref Decoder
	samples := append(allSamples(t), synthSamples(8)...)
	for _, s := range samples {
		checkRef(t, &fast, &ref, []byte(s.Payload), s.Fill)
	}
	t.Logf("%d messages", len(samples))
}

// BenchmarkDecodeType1Reference measures the reference decoder, to compare
// with BenchmarkDecodeType1 (the fast reads).
func BenchmarkDecodeType1Reference(b *testing.B) {
	var d Decoder
	p := []byte(benchType1)
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		if _, err := d.decodeRef(p, 0); err != nil {
			b.Fatal(err)
		}
	}
	c.stop()
}
