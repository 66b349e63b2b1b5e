package ais

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// addSeeds adds the real captures' payloads (one per distinct type and
// length, to keep the seed run short) to a fuzz target.
func addSeeds(f *testing.F) {
	seen := map[[2]int]bool{}
	for _, s := range allSamples(f) {
		k := [2]int{0, len(s.Payload)}
		if len(s.Payload) > 0 {
			k[0] = int(s.Payload[0])
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		f.Add([]byte(s.Payload), s.Fill)
	}
}

// FuzzUnarmor checks Unarmor against the bit-per-byte reference and the
// reader's bounds.
func FuzzUnarmor(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, payload []byte, fill int) {
		b, err := Unarmor(nil, payload, fill)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrBadPayloadChar) && !errors.Is(err, ErrBadFill) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if fill > 6*len(payload) {
			t.Fatalf("accepted fill %d for %d characters", fill, len(payload))
		}
		ref := refBits(string(payload), fill)
		if b.Len() != len(ref) {
			t.Fatalf("%d bits, want %d", b.Len(), len(ref))
		}
		r := b.Reader()
		for off := 0; off < len(ref); {
			n := min(1+off%57, len(ref)-off)
			if got, want := r.Uint(n), refUint(ref, off, n); got != want {
				t.Fatalf("Uint(%d) at %d = %x, want %x", n, off, got, want)
			}
			off += n
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		r.Uint(1)
		if !errors.Is(r.Err(), ErrShort) {
			t.Fatal("no ErrShort past the end")
		}
	})
}

// FuzzDecode checks that Decode never panics, returns only the package's
// errors, produces valid JSON of bounded size, that Clone is faithful, and
// that the fast decoders equal the reference ones.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	var d, fast, ref Decoder
	f.Fuzz(func(t *testing.T, payload []byte, fill int) {
		checkRef(t, &fast, &ref, payload, fill)
		m, err := d.Decode(payload, fill)
		if err != nil {
			for _, e := range []error{ErrEmpty, ErrBadPayloadChar, ErrBadFill, ErrUnknownType, ErrShort} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		j := m.AppendJSON(nil)
		if !json.Valid(j) {
			t.Fatalf("invalid JSON: %s", j)
		}
		if len(j) > 1024+4*len(payload) {
			t.Fatalf("JSON of %d bytes for a %d-character payload", len(j), len(payload))
		}
		if g := m.AppendGPSD(nil); len(g) > 0 && !json.Valid(g) {
			t.Fatalf("invalid gpsd JSON: %s", g)
		}
		c := m.Clone()
		d.Decode([]byte("15N1u<PP1FJuvSRHOE6QIwwh0HQ6"), 0)
		if cj := c.AppendJSON(nil); !bytes.Equal(cj, j) {
			t.Fatalf("clone differs:\n%s\n%s", cj, j)
		}
	})
}
