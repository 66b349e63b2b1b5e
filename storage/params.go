package storage

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// formatParams turns Params into the text form ClickHouse parses a query
// parameter from: a scalar as an escaped TabSeparated field, an array in its
// text form with quoted elements.
func formatParams(p Params) (map[string]string, error) {
	if len(p) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(p))
	for k, v := range p {
		if !isIdent(k) {
			return nil, fmt.Errorf("%w: name %q", ErrParam, k)
		}
		s, err := paramText(v, false)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrParam, k, err)
		}
		if k := reflect.ValueOf(v).Kind(); k != reflect.Slice && k != reflect.Array || isBytes(v) {
			// A scalar is read as a TabSeparated field (an array's text form
			// quotes its elements instead).
			s = escapeTSV(s)
		}
		m[k] = s
	}
	return m, nil
}

// paramText formats one value; inArray quotes strings and times, as the
// text form of an Array(T) requires.
func paramText(v any, inArray bool) (string, error) {
	quote := func(s string) string {
		if !inArray {
			return s
		}
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	switch x := v.(type) {
	case nil:
		return `\N`, nil
	case string:
		return quote(x), nil
	case []byte:
		return quote(string(x)), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return formatFloat(float64(x))
	case float64:
		return formatFloat(x)
	case time.Time:
		return quote(x.UTC().Format("2006-01-02 15:04:05.000")), nil
	case time.Duration:
		return formatFloat(x.Seconds())
	case fmt.Stringer:
		return quote(x.String()), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		var b strings.Builder
		b.WriteByte('[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			s, err := paramText(rv.Index(i).Interface(), true)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		}
		b.WriteByte(']')
		return b.String(), nil
	case reflect.String:
		return quote(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float())
	}
	return "", fmt.Errorf("unsupported type %T", v)
}

func formatFloat(f float64) (string, error) {
	switch {
	case math.IsNaN(f):
		return "nan", nil
	case math.IsInf(f, 1):
		return "inf", nil
	case math.IsInf(f, -1):
		return "-inf", nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// escapeTSV applies the escaping of ClickHouse's TabSeparated text format,
// the form in which chdb_query_with_params reads a value.
var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

func escapeTSV(s string) string {
	if s == `\N` {
		return s
	}
	return tsvEscaper.Replace(s)
}

// settingsClause renders Settings as " SETTINGS k = v, ..." with validated
// names and literal values (settings come from code, never from users).
func settingsClause(s Settings) (string, error) {
	if len(s) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(" SETTINGS ")
	for i, k := range keys {
		if !isIdent(k) {
			return "", fmt.Errorf("%w: setting name %q", ErrParam, k)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(" = ")
		switch v := s[k].(type) {
		case string:
			b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'")
		case bool:
			if v {
				b.WriteString("1")
			} else {
				b.WriteString("0")
			}
		default:
			t, err := paramText(v, false)
			if err != nil {
				return "", fmt.Errorf("%w: setting %s: %v", ErrParam, k, err)
			}
			b.WriteString(t)
		}
	}
	return b.String(), nil
}

func isBytes(v any) bool { _, ok := v.([]byte); return ok }

// escapeTSVBytes escapes binary data as one TabSeparated field.
func escapeTSVBytes(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/16)
	for _, c := range b {
		switch c {
		case '\\':
			out = append(out, '\\', '\\')
		case '\t':
			out = append(out, '\\', 't')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case 0:
			out = append(out, '\\', '0')
		default:
			out = append(out, c)
		}
	}
	return unsafe.String(unsafe.SliceData(out), len(out))
}
