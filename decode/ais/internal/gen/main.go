// Command gen generates decode/ais/messages_gen.go from the message table
// in table.go: the typed message structs, their decoders, scaled accessors,
// Keelson JSON and gpsd JSON writers, and Clone.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"strings"
	"unicode"
)

// Kind is the kind of a field.
type Kind int

const (
	KU        Kind = iota // unsigned integer
	KI                    // two's complement signed integer
	KB                    // one-bit flag
	KT                    // 6-bit text, Bits = 6 * characters
	KM                    // 30-bit MMSI
	KSpare                // spare bits, skipped
	KData                 // the rest of the message as raw data (minus Reserve bits)
	KTextRest             // the rest of the message as 6-bit text
	KApp                  // DAC/FI application data (types 6 and 8)
	KGroup                // repeated group of fields (Elem), Count elements
)

// F is one field of a layout.
type F struct {
	Name    string
	K       Kind
	Bits    int
	At      int    // explicit bit offset, -1 after the previous field
	Opt     bool   // may be missing at the end: then read what the buffer holds (zeros), like gpsd
	When    string // Go condition for the field to be present (m, n in scope)
	First   bool   // decode before the other fields (conditions depend on it)
	Custom  string // custom decoder func(m, r, ms)
	Reserve int    // KData: bits after the data
	AppOn   int    // KApp: message type
	Doc     string

	J      string // Keelson JSON name
	Scaled bool
	Div    float64
	Off    float64
	NA     []int64
	Conv   string // custom accessor conversion func(int64) keelson.Float
	NAFrom int64  // when > 0, raw values >= NAFrom are not available too (reserved codes)

	G     string // gpsd name, "-" not printed
	GKind string // "", "f", "q", "raw", "int", "nan", "leg", "legs", "fn"
	GDec  int
	GFn   string
	GLeg  string
	GNA   int64
	GWhen string
	GLast string // KData: func computing the last byte of gpsd's hex dump

	// KGroup
	Elem     []F
	ElemBits int
	Base     int    // offset of the first element, relative to the data
	Count    string // Go expression (nd: data bits, m) for the number of elements
	Max      int
}

// Msg is a message (or application message) layout.
type Msg struct {
	Name    string
	Doc     string
	Types   []int
	DAC, FI int
	AltDAC  int
	On, GOn []int
	MinBits int
	GCheck  string   // Go condition (n, m) for gpsd to print the message
	GFn     string   // custom gpsd body writer
	Extra   []string // extra (unexported) struct fields, verbatim
	Fields  []F
}

func field(name string, k Kind, bits int) F {
	return F{Name: name, K: k, Bits: bits, At: -1, J: snake(name), G: snake(name)}
}
func u(name string, bits int) F   { return field(name, KU, bits) }
func i(name string, bits int) F   { return field(name, KI, bits) }
func b(name string) F             { return field(name, KB, 1) }
func t(name string, chars int) F  { return field(name, KT, 6*chars) }
func mmsi(name string) F          { return field(name, KM, 30) }
func spare(bits int) F            { f := field("", KSpare, bits); f.G = "-"; return f }
func textRest(name string) F      { return field(name, KTextRest, 0) }
func data(name string, res int) F { f := field(name, KData, 0); f.Reserve = res; return f }
func group(name string, base, elemBits, max int, count string, elem ...F) F {
	f := field(name, KGroup, 0)
	f.Elem, f.ElemBits, f.Base, f.Max, f.Count = elem, elemBits, base, max, count
	return f
}
func app(on int) F              { f := field("", KApp, 0); f.AppOn = on; f.G = "-"; return f }
func (f F) doc(s string) F      { f.Doc = s; return f }
func (f F) j(s string) F        { f.J, f.G = s, s; return f }
func (f F) g(s string) F        { f.G = s; return f }
func (f F) gno() F              { f.G = "-"; return f }
func (f F) gf(dec int) F        { f.GKind, f.GDec = "f", dec; return f }
func (f F) gq(dec int) F        { f.GKind, f.GDec = "q", dec; return f }
func (f F) graw() F             { f.GKind = "raw"; return f }
func (f F) gint() F             { f.GKind = "int"; return f }
func (f F) gnan(v int64) F      { f.GKind, f.GNA = "nan", v; return f }
func (f F) gl(g, leg string) F  { f.G, f.GKind, f.GLeg = g, "leg", leg; return f }
func (f F) gls(g, leg string) F { f.G, f.GKind, f.GLeg = g, "legs", leg; return f }
func (f F) gfn(fn string) F     { f.GKind, f.GFn = "fn", fn; return f }
func (f F) gwhen(c string) F    { f.GWhen = c; return f }
func (f F) glast(fn string) F   { f.GLast = fn; return f }
func (f F) opt() F              { f.Opt = true; return f }
func (f F) when(c string) F     { f.When = c; return f }
func (f F) at(off int) F        { f.At = off; return f }
func (f F) first() F            { f.First = true; return f }
func (f F) custom(fn string) F  { f.Custom = fn; return f }
func (f F) nafrom(v int64) F    { f.NAFrom = v; return f }
func (f F) conv(fn string) F    { f.Scaled, f.Conv = true, fn; return f }
func (f F) scale(div, off float64, na ...int64) F {
	f.Scaled, f.Div, f.Off, f.NA = true, div, off, na
	return f
}

func snake(s string) string {
	var out []rune
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				out = append(out, '_')
			}
		}
		out = append(out, unicode.ToLower(r))
	}
	return string(out)
}

func goType(f F) string {
	switch f.K {
	case KU:
		switch {
		case f.Bits <= 8:
			return "uint8"
		case f.Bits <= 16:
			return "uint16"
		case f.Bits <= 32:
			return "uint32"
		}
		return "uint64"
	case KI:
		switch {
		case f.Bits <= 8:
			return "int8"
		case f.Bits <= 16:
			return "int16"
		}
		return "int32"
	case KB:
		return "bool"
	case KT, KTextRest:
		return "string"
	case KM:
		return "keelson.MMSI"
	}
	return ""
}

// goName is the struct field name: scaled fields keep the raw value in
// NameRaw and have a Name() accessor.
func goName(f F) string {
	if f.Scaled {
		return f.Name + "Raw"
	}
	return f.Name
}

type gen struct{ bytes.Buffer }

func (g *gen) p(format string, args ...any) { fmt.Fprintf(g, format+"\n", args...) }

func fmtFloat(v float64) string { return fmt.Sprintf("%v", v) }

func (g *gen) msg(m Msg, isApp bool) {
	g.p("// %s", m.Doc)
	if isApp {
		g.p("// It is decoded from the data of message types %s.", ints(m.On))
	}
	g.p("type %s struct {", m.Name)
	if !isApp {
		g.p("Header")
	} else {
		g.p("// Truncated is set when the data is shorter than the layout's %d bits: the", m.MinBits)
		g.p("// missing fields then hold what gpsd reads there (fill bits, then zeros).")
		g.p("Truncated bool")
	}
	for _, f := range m.Fields {
		switch f.K {
		case KSpare:
			continue
		case KData:
			g.p("// %s holds the %s bits of raw data, left aligned (the bits after %sBits in the last byte are zero).", f.Name, f.Name, f.Name)
			g.p("%s []byte", f.Name)
			g.p("%sBits int", f.Name)
			g.p("gpsdLast byte // last data byte as sent, for gpsd's hex dump")
			continue
		case KGroup:
			g.p("%s []%s // %s", f.Name, m.Name+f.Name, f.Doc)
			g.p("%s [%d]%s", lower(f.Name), f.Max, m.Name+f.Name)
			continue
		case KApp:
			g.p("// Data holds the DataBits bits of application data after the FI, left aligned.")
			g.p("Data []byte")
			g.p("DataBits int")
			g.p("gpsdLast byte")
			g.p("// App is the decoded application message, nil when the DAC/FI is not one that this package decodes (or the data is too short).")
			g.p("App Application")
			continue
		}
		doc := f.Doc
		if f.Scaled && doc == "" {
			doc = "raw ITU value; see " + f.Name + "()"
		}
		if f.When != "" {
			doc = strings.TrimSpace(doc + " (present when " + f.When + ", else zero)")
		}
		if doc != "" {
			g.p("%s %s // %s", goName(f), goType(f), doc)
		} else {
			g.p("%s %s", goName(f), goType(f))
		}
	}
	for _, x := range m.Extra {
		g.p("%s", x)
	}
	if m.Name == "StaticDataReport" {
		g.p("vendorID7 string // gpsd's 7-character vendor id (pre ITU-R M.1371-4)")
		g.p("gpsdName string  // part B: the name from a matching part A (gpsd merges them)")
		g.p("gpsdMatch bool")
	}
	g.p("}")
	g.p("")

	// element types of groups
	for _, f := range m.Fields {
		if f.K != KGroup {
			continue
		}
		g.p("// %s is one element of %s.%s.", m.Name+f.Name, m.Name, f.Name)
		g.p("type %s struct {", m.Name+f.Name)
		for _, e := range f.Elem {
			if e.K == KSpare {
				continue
			}
			doc := e.Doc
			if e.When != "" {
				doc = strings.TrimSpace(doc + " (present when " + e.When + ")")
			}
			g.p("%s %s // %s", goName(e), goType(e), doc)
		}
		g.p("}")
		g.p("")
		g.accessors(Msg{Name: m.Name + f.Name}, f.Elem)
	}
	g.accessors(m, m.Fields)
	g.decodeFn(m, isApp)
}

// decodeMethod writes a decoder; fast enables the unchecked reads at the
// offsets known from the table (the reference decoder has them off).
func (g *gen) decodeMethod(m Msg, isApp bool, name string, fast bool) {
	g.p("func (m *%s) %s(r *Reader, ms *messages) {", m.Name, name)
	if isApp {
		g.p("*m = %s{Truncated: r.Remaining() < %d}", m.Name, m.MinBits)
		g.p("base := r.Pos()")
		g.p("_ = base")
	} else {
		g.p("*m = %s{Header: readHeader(r)}", m.Name)
	}
	g.p("n := r.Len()")
	g.p("_ = n")
	order := []F{}
	for _, f := range m.Fields {
		if f.First {
			order = append(order, f)
		}
	}
	if len(order) > 0 {
		g.p("save := r.Pos()")
		for _, f := range order {
			g.readField(m, f, isApp)
		}
		g.p("r.Seek(save)")
	}
	// Fields at offsets known here, inside MinBits, are read without checks.
	off, static := 38, fast
	if len(order) > 0 {
		static = false
	}
	synced := true
	for _, f := range m.Fields {
		if f.First && f.At >= 0 {
			continue
		}
		if f.At >= 0 && !isApp {
			off, static = f.At, true
		}
		if static && f.When == "" && f.Custom == "" && !f.Opt && off+f.Bits <= m.MinBits &&
			(f.K == KU || f.K == KI || f.K == KB || f.K == KM || f.K == KSpare) {
			name := goName(f)
			switch f.K {
			case KU:
				g.p("m.%s = %s(r.at(%d, %d))", name, goType(f), off, f.Bits)
			case KI:
				g.p("m.%s = %s(r.sat(%d, %d))", name, goType(f), off, f.Bits)
			case KB:
				g.p("m.%s = r.at(%d, 1) != 0", name, off)
			case KM:
				g.p("m.%s = keelson.MMSI(r.at(%d, 30))", name, off)
			}
			off += f.Bits
			synced = false
			continue
		}
		if !synced && f.At < 0 {
			g.p("r.Seek(%d)", off)
		}
		synced = true
		g.readField(m, f, isApp)
		switch {
		case f.When != "" || f.K == KT && f.Custom != "" || f.K == KData || f.K == KTextRest || f.K == KApp:
			static = false
		default:
			off += f.Bits
		}
	}
	g.p("}")
	g.p("")

}

func lower(s string) string { return strings.ToLower(s[:1]) + s[1:] }

func (g *gen) accessors(m Msg, fields []F) {
	for _, f := range fields {
		if !f.Scaled {
			continue
		}
		g.p("// %s returns %s scaled to physical units, keelson.NA when not available.", f.Name, snake(f.Name))
		g.p("func (m *%s) %s() keelson.Float {", m.Name, f.Name)
		if f.Conv != "" {
			g.p("return %s(int64(m.%s))", f.Conv, goName(f))
		} else {
			g.p("v := int64(m.%s)", goName(f))
			for _, na := range f.NA {
				g.p("if v == %d { return keelson.NA }", na)
			}
			if f.NAFrom > 0 {
				g.p("if v >= %d { return keelson.NA }", f.NAFrom)
			}
			g.p("return keelson.Float((float64(v) - %s) / %s)", fmtFloat(f.Off), fmtFloat(f.Div))
		}
		g.p("}")
		g.p("")
	}
}

func (g *gen) decodeFn(m Msg, isApp bool) {
	// decode
	g.decodeMethod(m, isApp, "decode", !isApp)

	// Keelson JSON
	g.p("// AppendJSON appends Keelson's JSON object of the message.")
	g.p("func (m *%s) AppendJSON(b []byte) []byte {", m.Name)
	if isApp {
		g.p("b = append(b, `{\"truncated\":`...)")
		g.p("b = strconv.AppendBool(b, m.Truncated)")
	} else {
		g.p("b = m.Header.appendJSON(b)")
	}
	g.p("n := m.bits()")
	g.p("_ = n")
	first := false
	for _, f := range m.Fields {
		if f.K == KSpare {
			continue
		}
		if f.When != "" {
			g.p("if %s {", f.When)
		}
		sep := ","
		if first {
			sep = ""
			first = false
		}
		switch {
		case f.K == KApp:
			g.p("b = appendJSONData(b, %q, m.Data, m.DataBits)", sep+`"data_bits":`)
			g.p("if m.App != nil { b = append(b, `,\"app\":`...); b = m.App.AppendJSON(b) }")
		case f.K == KGroup:
			g.p("b = append(b, %q...)", sep+`"`+f.J+`":[`)
			g.p("for i := range m.%s {", f.Name)
			g.p("e := &m.%s[i]", f.Name)
			g.p("if i > 0 { b = append(b, ',') }")
			g.p("b = append(b, '{')")
			g.p("p := len(b)")
			for _, e := range f.Elem {
				if e.K == KSpare {
					continue
				}
				if e.When != "" {
					g.p("if %s {", e.When)
				}
				g.p("b = append(b, %q...)", `,"`+e.J+`":`)
				if e.Scaled {
					g.appendScaledJSON(e, "e")
				} else {
					g.p("%s", appendValue(e, "e."+goName(e)))
				}
				if e.When != "" {
					g.p("}")
				}
			}
			g.p("b = append(b[:p], b[p+1:]...)")
			g.p("b = append(b, '}')")
			g.p("}")
			g.p("b = append(b, ']')")
		case f.K == KData:
			g.p("b = appendJSONData(b, %q, m.%s, m.%sBits)", sep+`"`+f.J+`_bits":`, f.Name, f.Name)
		case f.Scaled:
			g.p("b = append(b, %q...)", sep+`"`+f.J+`":`)
			g.appendScaledJSON(f, "m")
		default:
			g.p("b = append(b, %q...)", sep+`"`+f.J+`":`)
			g.p("%s", appendValue(f, "m."+goName(f)))
		}
		if f.When != "" {
			g.p("}")
		}
	}
	g.p("return append(b, '}')")
	g.p("}")
	g.p("")

	// gpsd JSON
	if isApp {
		g.p("func (m *%s) gpsdStructured(n, typ int) bool {", m.Name)
		cond := "true"
		if m.GCheck != "" {
			cond = m.GCheck
		}
		g.p("return (%s) && (%s)", typesCond("typ", m.GOn), cond)
		g.p("}")
		g.p("")
		g.p("func (m *%s) appendGPSD(b []byte) []byte {", m.Name)
	} else {
		g.p("// AppendGPSD appends the JSON object that gpsd's `gpsdecode -j` prints for")
		g.p("// the message, or nothing when gpsdecode prints nothing for it.")
		g.p("func (m *%s) AppendGPSD(b []byte) []byte {", m.Name)
		g.p("n := m.NBits")
		g.p("if !(%s) { return b }", m.GCheck)
		g.p("b = m.Header.appendGPSD(b)")
	}
	if m.GFn != "" {
		g.p("b = %s(b, m)", m.GFn)
	} else {
		for _, f := range m.Fields {
			if f.K == KApp {
				g.p("if m.App != nil && m.App.gpsdStructured(m.NBits, %d) {", f.AppOn)
				g.p("b = m.App.appendGPSD(b)")
				g.p("} else {")
				g.p("b = appendGPSDData(b, m.Data, m.DataBits, m.gpsdLast)")
				g.p("}")
				continue
			}
			if f.K == KData {
				g.p("b = appendGPSDData(b, m.%s, m.%sBits, m.gpsdLast)", f.Name, f.Name)
				continue
			}
			if f.K == KGroup {
				g.p("b = append(b, %q...)", `,"`+f.G+`":[`)
				g.p("for i := range m.%s {", f.Name)
				g.p("e := &m.%s[i]", f.Name)
				g.p("if i > 0 { b = append(b, ',') }")
				g.p("b = append(b, '{')")
				g.p("p := len(b)")
				for _, e := range f.Elem {
					if e.G == "-" {
						continue
					}
					if e.GWhen != "" {
						g.p("if %s {", e.GWhen)
					}
					g.gpsdFieldR(m, e, "e")
					if e.GWhen != "" {
						g.p("}")
					}
				}
				g.p("b = append(b[:p], b[p+1:]...)")
				g.p("b = append(b, '}')")
				g.p("}")
				g.p("b = append(b, ']')")
				continue
			}
			if f.G == "-" {
				continue
			}
			if f.GWhen != "" {
				g.p("if %s {", f.GWhen)
			}
			g.gpsdField(m, f)
			if f.GWhen != "" {
				g.p("}")
			}
		}
	}
	if !isApp {
		g.p("return append(b, '}')")
	} else {
		g.p("return b")
	}
	g.p("}")
	g.p("")

	// Clone
	if isApp {
		g.p("func (m *%s) cloneApp() Application {", m.Name)
	} else {
		g.p("// Clone returns a deep copy of the message.")
		g.p("func (m *%s) Clone() Message {", m.Name)
	}
	g.p("c := *m")
	for _, f := range m.Fields {
		switch f.K {
		case KT, KTextRest:
			g.p("c.%s = strings.Clone(m.%s)", f.Name, f.Name)
		case KData:
			g.p("c.%s = bytes.Clone(m.%s)", f.Name, f.Name)
		case KGroup:
			g.p("c.%s = c.%s[:len(m.%s)]", f.Name, lower(f.Name), f.Name)
			for _, e := range f.Elem {
				if e.K == KT {
					g.p("for i := range c.%s { c.%s[i].%s = strings.Clone(c.%s[i].%s) }", f.Name, f.Name, e.Name, f.Name, e.Name)
				}
			}
		case KApp:
			g.p("c.Data = bytes.Clone(m.Data)")
			g.p("if m.App != nil { c.App = m.App.cloneApp() }")
		}
	}
	if m.Name == "StaticDataReport" {
		g.p("c.vendorID7 = strings.Clone(m.vendorID7)")
		g.p("c.gpsdName = strings.Clone(m.gpsdName)")
	}
	g.p("return &c")
	g.p("}")
	g.p("")
}

// appendScaledJSON writes a scaled field for Keelson's JSON: null when not
// available, else the value with a fixed number of decimals (integer
// arithmetic), or the accessor's value for custom conversions.
func (g *gen) appendScaledJSON(f F, recv string) {
	if f.Conv != "" || f.Div != float64(int64(f.Div)) || f.Off != float64(int64(f.Off)) {
		g.p("b = %s.%s().AppendJSON(b)", recv, f.Name)
		return
	}
	div := int64(f.Div)
	dec := 0
	switch {
	case isPow10(div):
		for d := div; d > 1; d /= 10 {
			dec++
		}
	case 100%div == 0:
		dec = 2
	default:
		dec = len(fmt.Sprint(div)) + 1
	}
	cond := naCond("v", f.NA)
	if f.NAFrom > 0 {
		cond += fmt.Sprintf(" || v >= %d", f.NAFrom)
	}
	g.p("if v := int64(%s.%s); %s {", recv, goName(f), cond)
	g.p("b = append(b, \"null\"...)")
	g.p("} else {")
	p := int64(1)
	for i := 0; i < dec; i++ {
		p *= 10
	}
	if p == div {
		g.p("b = appendDec(b, v-(%d), %d)", int64(f.Off), dec)
	} else {
		g.p("b = appendDec(b, roundDiv((v-(%d))*%d, %d), %d)", int64(f.Off), p, div, dec)
	}
	g.p("}")
}

func isPow10(v int64) bool {
	for v > 1 && v%10 == 0 {
		v /= 10
	}
	return v == 1
}

func naCond(v string, na []int64) string {
	if len(na) == 0 {
		return "false"
	}
	var parts []string
	for _, x := range na {
		parts = append(parts, fmt.Sprintf("%s == %d", v, x))
	}
	return strings.Join(parts, " || ")
}

func typesCond(v string, ts []int) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s == %d", v, t))
	}
	if len(parts) == 0 {
		return "false"
	}
	return strings.Join(parts, " || ")
}

func ints(ts []int) string {
	var s []string
	for _, t := range ts {
		s = append(s, fmt.Sprint(t))
	}
	return strings.Join(s, ", ")
}

func appendValue(f F, v string) string {
	switch f.K {
	case KU:
		return fmt.Sprintf("b = appendUint(b, uint64(%s))", v)
	case KI:
		return fmt.Sprintf("b = strconv.AppendInt(b, int64(%s), 10)", v)
	case KB:
		return fmt.Sprintf("b = strconv.AppendBool(b, %s)", v)
	case KT, KTextRest:
		return fmt.Sprintf("b = appendJSONString(b, %s)", v)
	case KM:
		return fmt.Sprintf("b = appendUint(b, uint64(%s))", v)
	}
	panic("no value for " + f.Name)
}

func (g *gen) readField(m Msg, f F, isApp bool) { g.readFieldR(m, f, isApp, "m") }

func (g *gen) readFieldR(m Msg, f F, isApp bool, recv string) {
	if f.At >= 0 {
		if isApp {
			g.p("r.Seek(base + %d)", f.At)
		} else {
			g.p("r.Seek(%d)", f.At)
		}
	}
	if f.When != "" && !f.First {
		g.p("if %s {", f.When)
		defer g.p("}")
		if f.K == KData || f.K == KTextRest || f.K == KApp {
			panic("conditional rest field")
		}
	}
	if f.Custom != "" {
		g.p("%s(%s, r, ms)", f.Custom, recv)
		return
	}
	read := "r.Uint"
	sread := "r.Int"
	if f.Opt || isApp {
		read = "r.optUint"
		sread = "r.optInt"
	}
	name := goName(f)
	switch f.K {
	case KU:
		g.p(recv+".%s = %s(%s(%d))", name, goType(f), read, f.Bits)
	case KI:
		g.p(recv+".%s = %s(%s(%d))", name, goType(f), sread, f.Bits)
	case KB:
		g.p(recv+".%s = %s(1) != 0", name, read)
	case KM:
		g.p(recv+".%s = keelson.MMSI(%s(30))", name, read)
	case KT:
		g.p(recv+".%s = r.text(&ms.arena, %d)", name, f.Bits/6)
	case KSpare:
		if f.Opt || isApp {
			g.p("r.optSkip(%d)", f.Bits)
		} else {
			g.p("r.Skip(%d)", f.Bits)
		}
	case KGroup:
		g.group(m, f)
	case KTextRest:
		g.p(recv+".%s = r.text(&ms.arena, r.Remaining()/6)", name)
	case KData:
		g.p("m.%sBits = max(r.Remaining()-%d, 0)", f.Name, f.Reserve)
		if f.GLast != "" {
			g.p("m.gpsdLast = %s(r, m.MsgType, m.Addressed, m.Structured, m.%sBits)", f.GLast, f.Name)
			g.p("m.%s, _ = r.data(&ms.arena, m.%sBits)", f.Name, f.Name)
		} else {
			g.p("m.%s, m.gpsdLast = r.data(&ms.arena, m.%sBits)", f.Name, f.Name)
		}
	case KApp:
		g.p("start := r.Pos()")
		g.p("m.DataBits = r.Remaining()")
		g.p("m.Data, m.gpsdLast = r.data(&ms.arena, m.DataBits)")
		g.p("r.Seek(start)")
		g.p("m.App = ms.decodeApp(%d, uint16(m.DAC), uint8(m.FI), r)", f.AppOn)
	}
}

// group decodes the elements of a repeated group; elements past the end of
// the message read what the buffer holds there (zeros), as gpsd does.
func (g *gen) group(m Msg, f F) {
	g.p("{")
	g.p("nd := r.Len() - base")
	g.p("_ = nd")
	g.p("cnt := min(max(%s, 0), %d)", f.Count, f.Max)
	g.p("for i := 0; i < cnt; i++ {")
	g.p("e := &m.%s[i]", lower(f.Name))
	g.p("*e = %s{}", m.Name+f.Name)
	g.p("es := base + %d + i*%d", f.Base, f.ElemBits)
	g.p("r.seekRaw(es)")
	for _, e := range f.Elem {
		e.Opt = true
		if e.At >= 0 {
			g.p("r.seekRaw(es + %d)", e.At)
			e.At = -1
		}
		g.readFieldR(m, e, true, "e")
	}
	g.p("}")
	g.p("m.%s = m.%s[:cnt]", f.Name, lower(f.Name))
	g.p("}")
}

func (g *gen) gpsdField(m Msg, f F) { g.gpsdFieldR(m, f, "m") }

func (g *gen) gpsdFieldR(m Msg, f F, recv string) {
	key := `,"` + f.G + `":`
	v := recv + "." + goName(f)
	switch f.GKind {
	case "fn":
		g.p("b = %s(b, %q, int64(%s), %s)", f.GFn, key, v, recv)
		return
	}
	g.p("b = append(b, %q...)", key)
	switch f.GKind {
	case "", "raw":
		if f.K == KM || f.K == KU || f.K == KI || f.K == KB || f.K == KT || f.K == KTextRest {
			g.p("%s", appendValue(f, v))
		} else {
			panic("gpsd raw " + f.Name)
		}
	case "f":
		g.p("b = strconv.AppendFloat(b, (float64(%s)-%s)/%s, 'f', %d, 64)", v, fmtFloat(f.Off), fmtFloat(f.Div), f.GDec)
	case "q":
		g.p("b = append(b, '\"')")
		g.p("b = strconv.AppendFloat(b, (float64(%s)-%s)/%s, 'f', %d, 64)", v, fmtFloat(f.Off), fmtFloat(f.Div), f.GDec)
		g.p("b = append(b, '\"')")
	case "int":
		if f.K == KB {
			g.p("b = strconv.AppendInt(b, int64(b2i(%s)), 10)", v)
		} else {
			g.p("b = strconv.AppendInt(b, int64(%s)-(%d), 10)", v, int64(f.Off))
		}
	case "nan":
		g.p("if int64(%s) == %d { b = append(b, `\"nan\"`...) } else { b = strconv.AppendInt(b, int64(%s), 10) }", v, f.GNA, v)
	case "leg":
		g.p("%s", appendValue(f, v))
		g.p("b = append(b, %q...)", `,"`+f.G+`_text":`)
		g.p("b = appendJSONString(b, %s(int(%s)))", f.GLeg, v)
	case "legs":
		g.p("b = appendJSONString(b, %s(int(%s)))", f.GLeg, v)
	default:
		panic("gpsd kind " + f.GKind)
	}
}

func main() {
	out := flag.String("o", "messages_gen.go", "output file")
	ref := flag.String("ref", "", "also write the reference decoders (checked reads only) to this _test.go file")
	flag.Parse()
	if *ref != "" {
		writeRef(*ref)
	}
	var g gen
	g.p("// Code generated by internal/gen from internal/gen/table.go. DO NOT EDIT.")
	g.p("")
	g.p("package ais")
	g.p("")
	g.p("import (")
	g.p(`"bytes"`)
	g.p(`"strconv"`)
	g.p(`"strings"`)
	g.p("")
	g.p(`"github.com/keelson/keelson"`)
	g.p(")")
	g.p("")
	for _, m := range messages {
		g.msg(m, false)
		g.p("func (m *%s) bits() int { return m.NBits }", m.Name)
		g.p("")
	}
	for _, m := range apps {
		g.msg(m, true)
		g.p("func (m *%s) bits() int { return 0 }", m.Name)
		g.p("")
	}
	// messages holder
	g.p("// messages holds one preallocated struct per message type, the text arena and gpsd's type 24 queue.")
	g.p("type messages struct {")
	g.p("arena []byte")
	g.p("t24 type24Queue")
	for _, m := range messages {
		g.p("m%s %s", m.Name, m.Name)
	}
	for _, m := range apps {
		g.p("a%s %s", m.Name, m.Name)
	}
	g.p("}")
	g.p("")
	g.p("// minBits is the least number of bits of each message type.")
	g.p("var minBits = [28]int{")
	for _, m := range messages {
		for _, t := range m.Types {
			g.p("%d: %d,", t, m.MinBits)
		}
	}
	g.p("}")
	g.p("")
	g.p("func (ms *messages) decodeType(t uint8, r *Reader) Message {")
	g.p("switch t {")
	for _, m := range messages {
		g.p("case %s:", ints(m.Types))
		g.p("m := &ms.m%s", m.Name)
		g.p("m.decode(r, ms)")
		g.p("return m")
	}
	g.p("}")
	g.p("return nil")
	g.p("}")
	g.p("")
	g.p("func (ms *messages) decodeApp(typ int, dac uint16, fi uint8, r *Reader) Application {")
	for _, m := range apps {
		dc := fmt.Sprintf("dac == %d", m.DAC)
		if m.AltDAC != 0 {
			dc = fmt.Sprintf("(dac == %d || dac == %d)", m.DAC, m.AltDAC)
		}
		g.p("if %s && fi == %d && (%s) {", dc, m.FI, typesCond("typ", m.On))
		g.p("m := &ms.a%s", m.Name)
		g.p("ar := *r // the application's reads must not fail the message")
		g.p("m.decode(&ar, ms)")
		g.p("if ar.Err() != nil { return nil }")
		g.p("return m")
		g.p("}")
	}
	g.p("return nil")
	g.p("}")
	src, err := format.Source(g.Bytes())
	if err != nil {
		os.WriteFile(*out, g.Bytes(), 0o644)
		log.Fatalf("format: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// writeRef writes the reference decoders: the same table walked with
// checked, sequential reads only, to test the fast decoders against.
func writeRef(path string) {
	var g gen
	g.p("// Code generated by internal/gen from internal/gen/table.go. DO NOT EDIT.")
	g.p("")
	g.p("package ais")
	g.p("")
	g.p(`import "github.com/keelson/keelson"`)
	g.p("")
	g.p("var _ keelson.MMSI")
	g.p("")
	for _, m := range messages {
		g.decodeMethod(m, false, "decodeRef", false)
	}
	g.p("func (ms *messages) decodeTypeRef(t uint8, r *Reader) Message {")
	g.p("switch t {")
	for _, m := range messages {
		g.p("case %s:", ints(m.Types))
		g.p("m := &ms.m%s", m.Name)
		g.p("m.decodeRef(r, ms)")
		g.p("return m")
	}
	g.p("}")
	g.p("return nil")
	g.p("}")
	src, err := format.Source(g.Bytes())
	if err != nil {
		os.WriteFile(path, g.Bytes(), 0o644)
		log.Fatalf("format: %v", err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
