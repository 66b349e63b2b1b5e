package storage

import (
	"encoding/binary"
	"math"
	"strings"
)

// block is a columnar batch of rows for one table: Go slices that the
// embedded engine encodes in ClickHouse's Native format and the server
// engine hands to clickhouse-go's batch column by column.
type block struct {
	table string
	cols  []column
}

func (b *block) rows() int {
	if len(b.cols) == 0 {
		return 0
	}
	return b.cols[0].len()
}

func (b *block) reset() {
	for _, c := range b.cols {
		c.reset()
	}
}

// names returns "(a, b, c)" for the INSERT's column list.
func (b *block) names() string {
	var s strings.Builder
	s.WriteByte('(')
	for i, c := range b.cols {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(c.colName())
	}
	s.WriteByte(')')
	return s.String()
}

// appendNative appends the block in Native format (no block info).
func (b *block) appendNative(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b.cols)))
	dst = binary.AppendUvarint(dst, uint64(b.rows()))
	for _, c := range b.cols {
		dst = appendStr(dst, c.colName())
		dst = appendStr(dst, c.wireType())
		dst = c.appendNative(dst)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

type column interface {
	colName() string
	wireType() string // type in the Native header; ClickHouse converts to the column's type
	appendNative(dst []byte) []byte
	values() any // the slice, for clickhouse-go's batch.Column(i).Append
	len() int
	reset()
}

type colBase struct{ name, typ string }

func (c colBase) colName() string  { return c.name }
func (c colBase) wireType() string { return c.typ }

type colU8 struct {
	colBase
	v []uint8
}

func (c *colU8) appendNative(d []byte) []byte { return append(d, c.v...) }
func (c *colU8) values() any                  { return c.v }
func (c *colU8) len() int                     { return len(c.v) }
func (c *colU8) reset()                       { c.v = c.v[:0] }

type colU16 struct {
	colBase
	v []uint16
}

func (c *colU16) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint16(d, x)
	}
	return d
}
func (c *colU16) values() any { return c.v }
func (c *colU16) len() int    { return len(c.v) }
func (c *colU16) reset()      { c.v = c.v[:0] }

type colU32 struct {
	colBase
	v []uint32
}

func (c *colU32) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint32(d, x)
	}
	return d
}
func (c *colU32) values() any { return c.v }
func (c *colU32) len() int    { return len(c.v) }
func (c *colU32) reset()      { c.v = c.v[:0] }

type colI32 struct {
	colBase
	v []int32
}

func (c *colI32) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint32(d, uint32(x))
	}
	return d
}
func (c *colI32) values() any { return c.v }
func (c *colI32) len() int    { return len(c.v) }
func (c *colI32) reset()      { c.v = c.v[:0] }

type colU64 struct {
	colBase
	v []uint64
}

func (c *colU64) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint64(d, x)
	}
	return d
}
func (c *colU64) values() any { return c.v }
func (c *colU64) len() int    { return len(c.v) }
func (c *colU64) reset()      { c.v = c.v[:0] }

type colI64 struct {
	colBase
	v []int64
}

func (c *colI64) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint64(d, uint64(x))
	}
	return d
}
func (c *colI64) values() any { return c.v }
func (c *colI64) len() int    { return len(c.v) }
func (c *colI64) reset()      { c.v = c.v[:0] }

// colTime is a DateTime64(3, 'UTC') column held as Unix milliseconds.
type colTime struct{ colI64 }

type colF32 struct {
	colBase
	v []float32
}

func (c *colF32) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint32(d, math.Float32bits(x))
	}
	return d
}
func (c *colF32) values() any { return c.v }
func (c *colF32) len() int    { return len(c.v) }
func (c *colF32) reset()      { c.v = c.v[:0] }

type colF64 struct {
	colBase
	v []float64
}

func (c *colF64) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = binary.LittleEndian.AppendUint64(d, math.Float64bits(x))
	}
	return d
}
func (c *colF64) values() any { return c.v }
func (c *colF64) len() int    { return len(c.v) }
func (c *colF64) reset()      { c.v = c.v[:0] }

type colStr struct {
	colBase
	v []string
}

func (c *colStr) appendNative(d []byte) []byte {
	for _, x := range c.v {
		d = appendStr(d, x)
	}
	return d
}
func (c *colStr) values() any { return c.v }
func (c *colStr) len() int    { return len(c.v) }
func (c *colStr) reset()      { clear(c.v); c.v = c.v[:0] }

// colStrs is an Array(String) column.
type colStrs struct {
	colBase
	v [][]string
}

func (c *colStrs) appendNative(d []byte) []byte {
	var off uint64
	for _, x := range c.v {
		off += uint64(len(x))
		d = binary.LittleEndian.AppendUint64(d, off)
	}
	for _, x := range c.v {
		for _, s := range x {
			d = appendStr(d, s)
		}
	}
	return d
}
func (c *colStrs) values() any { return c.v }
func (c *colStrs) len() int    { return len(c.v) }
func (c *colStrs) reset()      { clear(c.v); c.v = c.v[:0] }
