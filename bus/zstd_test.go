package bus

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// The compact codec's output must read back with kafka-go's own zstd
// reader, whatever way it is written to, and carry no frame checksum.
func TestCompactZstdRoundTrip(t *testing.T) {
	c := &compactZstd{free: make(chan *zstd.Encoder, 2)}
	big := []byte(strings.Repeat(`{"v":1,"kind":"position","mmsi":244660000,"position":{"lat":52.1,"lon":4.3}}`, 40000)) // > 1 MiB window
	for _, tc := range []struct {
		name  string
		write func(w io.WriteCloser) error
		want  []byte
	}{
		{"one write", func(w io.WriteCloser) error { _, err := w.Write(big[:5000]); return err }, big[:5000]},
		{"bigger than the window", func(w io.WriteCloser) error { _, err := w.Write(big); return err }, big},
		{"record by record", func(w io.WriteCloser) error {
			// as kafka-go writes a batch: a Write per field of each record
			for i := 0; i < len(big); i += 77 {
				for _, p := range [][]byte{{0x80}, big[i : i+10], big[i+10 : i+77]} {
					if _, err := w.Write(p); err != nil {
						return err
					}
				}
			}
			return nil
		}, nil},
		{"two writes", func(w io.WriteCloser) error {
			if _, err := w.Write(big[:300]); err != nil {
				return err
			}
			_, err := w.Write(big[300:700])
			return err
		}, big[:700]},
		{"io.Copy without WriteTo", func(w io.WriteCloser) error {
			_, err := io.Copy(w, io.LimitReader(bytes.NewReader(big), 100000))
			return err
		}, big[:100000]},
		{"empty", func(w io.WriteCloser) error { return nil }, nil},
	} {
		for round := range 2 { // the second round reuses the pooled writer
			var out bytes.Buffer
			w := c.NewWriter(&out)
			if err := tc.write(w); err != nil {
				t.Fatalf("%s: write: %v", tc.name, err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("%s: close: %v", tc.name, err)
			}
			if out.Len() < 6 || out.Bytes()[4]&0x04 != 0 {
				t.Errorf("%s: frame header %x: want no checksum flag", tc.name, out.Bytes()[:min(6, out.Len())])
			}
			r := compress.ZstdCodec.NewReader(bytes.NewReader(out.Bytes()))
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("%s (round %d): read back: %v", tc.name, round, err)
			}
			want := tc.want
			if tc.name == "record by record" {
				want = want[:0]
				for i := 0; i < len(big); i += 77 {
					want = append(append(want, 0x80), big[i:i+77]...)
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s (round %d): read back %d bytes, want %d", tc.name, round, len(got), len(want))
			}
			if len(want) > 1<<20 && out.Len() > len(want)/50 {
				t.Errorf("%s: %d bytes compressed to %d", tc.name, len(big), out.Len())
			}
		}
	}
}
