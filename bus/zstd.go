package bus

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// kafka-go compresses with codecs from one process-wide table. Its zstd
// codec keeps the encoder's default 8 MiB window per concurrently
// compressed batch: 32 MB of history for four partitions, most of a small
// onboard computer's memory budget. A produce batch is at most about
// 1 MiB, so a 1 MiB window compresses the same; installCompactZstd swaps
// in such a codec (same format, same level) once per process, the first
// time a writer is made. Decompression is unchanged. It writes no frame
// checksum (optional in the format): the record batch has its own CRC.
var installZstd sync.Once

func installCompactZstd() {
	installZstd.Do(func() {
		compress.Codecs[compress.Zstd] = &compactZstd{free: make(chan *zstd.Encoder, 8)}
	})
}

// compactZstd is a kafka-go compress.Codec for zstd with a 1 MiB window.
// Its encoders are kept in a small free list rather than a sync.Pool, which
// the garbage collector empties: an encoder costs about 3 MB to make.
type compactZstd struct{ free chan *zstd.Encoder }

var _ compress.Codec = (*compactZstd)(nil)

func (c *compactZstd) Code() int8   { return compress.ZstdCodec.Code() }
func (c *compactZstd) Name() string { return compress.ZstdCodec.Name() }

// NewReader uses kafka-go's reader.
func (c *compactZstd) NewReader(r io.Reader) io.ReadCloser { return compress.ZstdCodec.NewReader(r) }

// NewWriter returns a pooled encoder writing to w.
func (c *compactZstd) NewWriter(w io.Writer) io.WriteCloser {
	var enc *zstd.Encoder
	select {
	case enc = <-c.free:
	default:
	}
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20),
			zstd.WithZeroFrames(true),
			zstd.WithLowerEncoderMem(true),
			// The frame checksum is optional in zstd (readers check it
			// only when present) and Kafka's record batch has its own
			// CRC-32C: hashing every byte again cost 7% of the
			// collector's CPU.
			zstd.WithEncoderCRC(false),
		)
		if err != nil {
			return &zstdWriter{err: err}
		}
	} else {
		enc.Reset(w)
	}
	return &zstdWriter{c: c, enc: enc}
}

type zstdWriter struct {
	c   *compactZstd
	enc *zstd.Encoder
	err error
}

func (w *zstdWriter) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return w.enc.Write(b)
}

// ReadFrom lets io.Copy stream without an intermediate buffer.
func (w *zstdWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	return w.enc.ReadFrom(r)
}

func (w *zstdWriter) Close() error {
	if w.enc == nil {
		return w.err
	}
	err := w.enc.Close()
	w.enc.Reset(nil)
	select {
	case w.c.free <- w.enc:
	default: // enough spare encoders
	}
	w.enc = nil
	if err == nil {
		err = w.err
	}
	return err
}
