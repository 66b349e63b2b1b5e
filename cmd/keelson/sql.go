//go:build !shipboard

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/storage"
)

func runSQL(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("sql", "sql [-clickhouse URL] [-format tsv|json] 'SELECT ...'", io.err)
	var (
		st     storageFlags
		format string
	)
	st.register(fs)
	fs.StringVar(&format, "format", "tsv", "output: tsv (a header line, then tab-separated rows) or json (one object per line)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("sql: want exactly one query argument, got %d", fs.NArg())
	}
	if format != "tsv" && format != "json" {
		return fmt.Errorf("sql: -format %q: want tsv or json", format)
	}
	opts := st.options(nil)
	opts.ReadOnly = true
	opts.Conns = 1
	db, err := storage.Open(ctx, st.url, opts)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	defer db.Close()
	rows, err := db.Query(ctx, fs.Arg(0), nil, nil)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	defer rows.Close()
	w := bufio.NewWriterSize(io.out, 64<<10)
	defer w.Flush()
	cols := rows.Columns()
	if format == "tsv" {
		for i, c := range cols {
			if i > 0 {
				w.WriteByte('\t')
			}
			w.WriteString(tsvEscape(c))
		}
		w.WriteByte('\n')
	}
	var line []byte
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		line = line[:0]
		if format == "tsv" {
			for i, v := range vals {
				if i > 0 {
					line = append(line, '\t')
				}
				line = append(line, tsvEscape(textValue(v))...)
			}
		} else {
			line = append(line, '{')
			for i, v := range vals {
				if i > 0 {
					line = append(line, ',')
				}
				k, _ := json.Marshal(cols[i])
				line = append(line, k...)
				line = append(line, ':')
				line = appendJSONValue(line, v)
			}
			line = append(line, '}')
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	return w.Flush()
}

var tsvReplacer = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func tsvEscape(s string) string { return tsvReplacer.Replace(s) }

// textValue renders a scanned value as ClickHouse's text formats do.
func textValue(v any) string {
	switch x := v.(type) {
	case nil:
		return `\N`
	case string:
		return x
	case time.Time:
		if x.Nanosecond() == 0 {
			return x.UTC().Format("2006-01-02 15:04:05")
		}
		return x.UTC().Format("2006-01-02 15:04:05.000")
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case fmt.Stringer:
		return x.String()
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return `\N`
		}
		return textValue(rv.Elem().Interface())
	}
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map || rv.Kind() == reflect.Struct {
		return string(appendJSONValue(nil, v))
	}
	return fmt.Sprint(v)
}

// appendJSONValue renders a scanned value as JSON (times as strings, NaN
// and infinities as null).
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case time.Time:
		return strconv.AppendQuote(b, textValue(x))
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return append(b, "null"...)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
	}
	rv := reflect.ValueOf(v)
	if v != nil && rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 {
		b = append(b, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, rv.Index(i).Interface())
		}
		return append(b, ']')
	}
	j, err := json.Marshal(v)
	if err != nil {
		return strconv.AppendQuote(b, fmt.Sprint(v))
	}
	return append(b, j...)
}
