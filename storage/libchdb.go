//go:build !nochdb

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The embedded engine is reached through a thin loader of libchdb's C API of
// our own (dlopen + purego calls), not through github.com/chdb-io/chdb-go:
//
//   - chdb-go loads the library in a package init and panics when it is
//     missing, so any binary linking it cannot start without libchdb.so.
//     This loader runs only when a chdb:// URL is opened, and reports a
//     missing library as ErrNoLibCHDB.
//   - chdb-go does not expose chdb_query_with_params(_n), the per-call
//     server-side parameter binding; "SET param_x" is session state shared
//     by every concurrent query and is never used here.
//   - We need the result bytes only (Native format, decoded by the same
//     column code clickhouse-go uses for the server), so the surface is a
//     dozen functions.

// ErrNoLibCHDB is returned when the embedded engine's library cannot be found
// or loaded.
var ErrNoLibCHDB = errors.New("storage: libchdb.so not found (set KEELSON_LIBCHDB to its path, or run `make setup` to fetch it into lib/)")

// LibCHDBEnv is the environment variable naming libchdb.so.
const LibCHDBEnv = "KEELSON_LIBCHDB"

type libchdb struct {
	path string

	connect          uintptr // chdb_connection *chdb_connect(int argc, char **argv)
	closeConn        uintptr // void chdb_close_conn(chdb_connection *conn)
	queryN           uintptr // chdb_result *chdb_query_n(conn, q, qlen, fmt, flen)
	queryParamsN     uintptr // chdb_result *chdb_query_with_params_n(conn, q, qlen, fmt, flen, names, nlens, values, vlens, n)
	streamParamsN    uintptr // chdb_result *chdb_stream_query_with_params_n(same)
	streamFetch      uintptr // chdb_result *chdb_stream_fetch_result(conn, result)
	streamCancel     uintptr // void chdb_stream_cancel_query(conn, result)
	destroyResult    uintptr // void chdb_destroy_query_result(result)
	resultBuffer     uintptr // char *chdb_result_buffer(result)
	resultLength     uintptr // size_t chdb_result_length(result)
	resultError      uintptr // const char *chdb_result_error(result)
	resultRowsRead   uintptr
	resultRowsWrite  uintptr
	resultBytesWrite uintptr
}

var (
	libOnce sync.Once
	lib     *libchdb
	libErr  error
)

// findLibCHDB returns the path of libchdb.so: $KEELSON_LIBCHDB, else
// lib/libchdb.so beside the executable (or one directory up, for bin/), else
// in the working directory or one of its parents (tests run in package dirs).
func findLibCHDB() (string, error) {
	if p := os.Getenv(LibCHDBEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoLibCHDB, LibCHDBEnv, p, err)
		}
		return p, nil
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		dirs = append(dirs, d, filepath.Dir(d))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "lib", "libchdb.so")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNoLibCHDB
}

// loadLibCHDB loads libchdb.so once per process.
func loadLibCHDB() (*libchdb, error) {
	libOnce.Do(func() {
		path, err := findLibCHDB()
		if err != nil {
			libErr = err
			return
		}
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			libErr = fmt.Errorf("%w: dlopen %s: %v", ErrNoLibCHDB, path, err)
			return
		}
		l := &libchdb{path: path}
		syms := []struct {
			p    *uintptr
			name string
		}{
			{&l.connect, "chdb_connect"},
			{&l.closeConn, "chdb_close_conn"},
			{&l.queryN, "chdb_query_n"},
			{&l.queryParamsN, "chdb_query_with_params_n"},
			{&l.streamParamsN, "chdb_stream_query_with_params_n"},
			{&l.streamFetch, "chdb_stream_fetch_result"},
			{&l.streamCancel, "chdb_stream_cancel_query"},
			{&l.destroyResult, "chdb_destroy_query_result"},
			{&l.resultBuffer, "chdb_result_buffer"},
			{&l.resultLength, "chdb_result_length"},
			{&l.resultError, "chdb_result_error"},
			{&l.resultRowsRead, "chdb_result_rows_read"},
			{&l.resultRowsWrite, "chdb_result_rows_written"},
			{&l.resultBytesWrite, "chdb_result_bytes_written"},
		}
		for _, s := range syms {
			p, err := purego.Dlsym(h, s.name)
			if err != nil {
				libErr = fmt.Errorf("%w: %s lacks %s (need chDB >= 26.5): %v", ErrNoLibCHDB, path, s.name, err)
				return
			}
			*s.p = p
		}
		lib = l
	})
	return lib, libErr
}

// cstr returns a NUL-terminated copy of s.
func cstr(s string) *byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0]
}

// goString copies the NUL-terminated C string at p.
func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(cptr(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(cptr(p)), n))
}

// chConn is one libchdb connection (*chdb_connection).
type chConn struct {
	l    *libchdb
	conn uintptr // chdb_connection * (pointer to the handle)
}

func (l *libchdb) open(args []string) (*chConn, error) {
	argv := make([]*byte, len(args)+1)
	for i, a := range args {
		argv[i] = cstr(a)
	}
	r, _, _ := purego.SyscallN(l.connect, uintptr(len(args)), uintptr(unsafe.Pointer(&argv[0])))
	runtime.KeepAlive(argv)
	if r == 0 {
		return nil, fmt.Errorf("storage: chdb_connect %v failed", args)
	}
	return &chConn{l: l, conn: r}, nil
}

// handle is the chdb_connection value the query functions take.
func (c *chConn) handle() uintptr { return *(*uintptr)(cptr(c.conn)) }

// cptr turns an address returned by C into a pointer (C memory is not moved
// by the Go collector).
func cptr(u uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&u)) }

func (c *chConn) close() {
	if c.conn != 0 {
		purego.SyscallN(c.l.closeConn, c.conn)
		c.conn = 0
	}
}

// chResult is a chdb_result *.
type chResult uintptr

func (c *chConn) bytes(r chResult) []byte {
	p, _, _ := purego.SyscallN(c.l.resultBuffer, uintptr(r))
	n, _, _ := purego.SyscallN(c.l.resultLength, uintptr(r))
	if p == 0 || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cptr(p)), int(n)) // valid until destroy
}

func (c *chConn) resultErr(r chResult) error {
	if r == 0 {
		return fmt.Errorf("%w: no result", ErrQuery)
	}
	p, _, _ := purego.SyscallN(c.l.resultError, uintptr(r))
	if p == 0 {
		return nil
	}
	msg := goString(p)
	if msg == "" {
		return nil
	}
	return &QueryError{Msg: msg}
}

func (c *chConn) destroy(r chResult) {
	if r != 0 {
		purego.SyscallN(c.l.destroyResult, uintptr(r))
	}
}

func (c *chConn) rowsWritten(r chResult) uint64 {
	n, _, _ := purego.SyscallN(c.l.resultRowsWrite, uintptr(r))
	return uint64(n)
}

// paramArrays holds the C arrays of a parameter set, kept alive by the caller.
type paramArrays struct {
	names, values []*byte
	nlens, vlens  []uintptr
}

func newParamArrays(p map[string]string) *paramArrays {
	a := &paramArrays{}
	for k, v := range p {
		a.names = append(a.names, cstr(k))
		a.nlens = append(a.nlens, uintptr(len(k)))
		a.values = append(a.values, cstr(v))
		a.vlens = append(a.vlens, uintptr(len(v)))
	}
	return a
}

func (a *paramArrays) ptrs() (names, nlens, values, vlens uintptr, n uintptr) {
	if len(a.names) == 0 {
		return 0, 0, 0, 0, 0
	}
	return uintptr(unsafe.Pointer(&a.names[0])), uintptr(unsafe.Pointer(&a.nlens[0])),
		uintptr(unsafe.Pointer(&a.values[0])), uintptr(unsafe.Pointer(&a.vlens[0])), uintptr(len(a.names))
}

// query runs one statement (binary-safe: query may carry inline data) and
// returns its result, which the caller must destroy.
func (c *chConn) query(query []byte, format string, params map[string]string) chResult {
	q := append(query[:len(query):len(query)], 0)
	f := cstr(format)
	var r uintptr
	if len(params) == 0 {
		r, _, _ = purego.SyscallN(c.l.queryN, c.handle(), uintptr(unsafe.Pointer(&q[0])), uintptr(len(query)),
			uintptr(unsafe.Pointer(f)), uintptr(len(format)))
	} else {
		a := newParamArrays(params)
		names, nlens, values, vlens, n := a.ptrs()
		r, _, _ = purego.SyscallN(c.l.queryParamsN, c.handle(), uintptr(unsafe.Pointer(&q[0])), uintptr(len(query)),
			uintptr(unsafe.Pointer(f)), uintptr(len(format)), names, nlens, values, vlens, n)
		runtime.KeepAlive(a)
	}
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	return chResult(r)
}

// stream starts a streaming query; fetch its chunks with fetch.
func (c *chConn) stream(query string, format string, params map[string]string) chResult {
	q := cstr(query)
	f := cstr(format)
	a := newParamArrays(params)
	names, nlens, values, vlens, n := a.ptrs()
	r, _, _ := purego.SyscallN(c.l.streamParamsN, c.handle(), uintptr(unsafe.Pointer(q)), uintptr(len(query)),
		uintptr(unsafe.Pointer(f)), uintptr(len(format)), names, nlens, values, vlens, n)
	runtime.KeepAlive(a)
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	return chResult(r)
}

func (c *chConn) fetch(stream chResult) chResult {
	r, _, _ := purego.SyscallN(c.l.streamFetch, c.handle(), uintptr(stream))
	return chResult(r)
}

func (c *chConn) cancel(stream chResult) {
	purego.SyscallN(c.l.streamCancel, c.handle(), uintptr(stream))
}
