package storage

import (
	"context"
	"errors"
	"fmt"
	"github.com/keelson/keelson/bus/bustest"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chServer is a clickhouse-server process started for a test on a loopback
// port (Debian's clickhouse-server 18.16 in CI: a wire peer for the native
// protocol; the schema itself targets 24+ and is tested on chDB).
type chServer struct {
	t       testing.TB
	bin     string
	dir     string
	port    int
	tlsPort int // 0: no TLS listener
	tls     bustest.TLSFiles
	cmd     *exec.Cmd
}

// startServer starts clickhouse-server; it skips under -short and fails
// when the binary is missing in a full run (scripts/setup.sh test installs it).
func startServer(t testing.TB) *chServer { return startServerTLS(t, false) }

// startServerTLS also listens with TLS (certificates from bustest) when
// withTLS.
func startServerTLS(t testing.TB, withTLS bool) *chServer {
	t.Helper()
	if testing.Short() {
		t.Skip("ClickHouse server: skipped with -short")
	}
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/clickhouse-server"); err2 != nil {
			t.Fatalf("clickhouse-server not installed (run scripts/setup.sh test): %v", err)
		}
		bin = "/usr/sbin/clickhouse-server"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	tlsXML := ""
	var files bustest.TLSFiles
	tlsPort := 0
	if withTLS {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tlsPort = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if files, _, err = bustest.WriteTLS(dir); err != nil {
			t.Fatal(err)
		}
		tlsXML = fmt.Sprintf(`<tcp_port_secure>%d</tcp_port_secure>
  <openSSL><server><certificateFile>%s</certificateFile><privateKeyFile>%s</privateKeyFile>
    <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
    <cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers>
  </server></openSSL>`, tlsPort, files.ServerCert, files.ServerKey)
	}
	cfg := fmt.Sprintf(`<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <tcp_port>%d</tcp_port>
  %s
  <listen_host>127.0.0.1</listen_host>
  <path>%[3]s/data/</path>
  <tmp_path>%[3]s/tmp/</tmp_path>
  <user_files_path>%[3]s/user_files/</user_files_path>
  <format_schema_path>%[3]s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
`, port, tlsXML, dir)
	users := `<yandex>
  <profiles><default></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <keelson><password>s3cret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></keelson>
  </users>
  <quotas><default></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &chServer{t: t, bin: bin, dir: dir, port: port, tlsPort: tlsPort, tls: files}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *chServer) start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	s.t.Fatalf("clickhouse-server did not listen on %s: %s", s.addr(), b)
}

func (s *chServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func (s *chServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *chServer) url(user string) string {
	return "clickhouse://" + user + "@" + s.addr() + "/default?dial_timeout=2s&read_timeout=20s"
}

// testBlock is a block of types that every server version has.
func testBlock(from, n int) *block {
	a := cU32("a")
	str := cStr("s")
	f := cF64("f")
	arr := cStrs("xs")
	for i := from; i < from+n; i++ {
		a.v = append(a.v, uint32(i))
		str.v = append(str.v, fmt.Sprintf("row\t%d\n'", i))
		f.v = append(f.v, float64(i)/4)
		arr.v = append(arr.v, []string{"x", fmt.Sprint(i)})
	}
	return &block{table: "t", cols: []column{a, str, f, arr}}
}

func TestServerBatchInsertReconnectRestart(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	if _, err := Open(ctx, srv.url("keelson:wrong"), Options{}); err == nil {
		t.Fatal("wrong password accepted")
	}
	db, err := Open(ctx, srv.url("keelson:s3cret"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Engine() != "server" {
		t.Fatalf("engine %q", db.Engine())
	}
	if err := db.Exec(ctx, "CREATE TABLE t (a UInt32, s String, f Float64, xs Array(String)) ENGINE = MergeTree ORDER BY a", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.eng.insert(ctx, "t", testBlock(0, 100000), nil); err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		t.Helper()
		var n uint64
		if err := db.QueryRow(ctx, "SELECT count() FROM t", nil, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 100000 {
		t.Fatalf("count %d", n)
	}
	// Values come back as written, through the streaming Rows.
	rows, err := db.Query(ctx, "SELECT a, s, f, xs FROM t WHERE a >= 99998 ORDER BY a", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	i := 99998
	for rows.Next() {
		var (
			a  uint32
			s  string
			f  float64
			xs []string
		)
		if err := rows.Scan(&a, &s, &f, &xs); err != nil {
			t.Fatal(err)
		}
		if a != uint32(i) || s != fmt.Sprintf("row\t%d\n'", i) || f != float64(i)/4 || len(xs) != 2 || xs[1] != fmt.Sprint(i) {
			t.Fatalf("row %d: %d %q %v %q", i, a, s, f, xs)
		}
		i++
	}
	if rows.Err() != nil || i != 100000 {
		t.Fatalf("rows: %d %v", i, rows.Err())
	}
	rows.Close()
	// Errors from the server are QueryErrors.
	if _, err := db.Query(ctx, "SELECT nope FROM t", nil, nil); !errors.Is(err, ErrQuery) {
		t.Fatalf("want ErrQuery, got %v", err)
	}

	// Server down: inserts fail promptly (no hang), and succeed again once
	// the server is back, through the same *DB.
	srv.stop()
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = db.eng.insert(cctx, "t", testBlock(100000, 10), nil)
	cancel()
	if err == nil {
		t.Fatal("insert succeeded with the server down")
	}
	srv.start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = db.eng.insert(ctx, "t", testBlock(100000, 50000), nil)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("insert after restart: %v", err)
	}
	if n := count(); n != 150000 {
		t.Fatalf("count after restart %d, want 150000", n)
	}
	if err := db.Exec(ctx, "DROP TABLE t", nil, nil); err != nil && !strings.Contains(err.Error(), "doesn't exist") {
		t.Fatal(err)
	}
}

func TestServerTLS(t *testing.T) {
	srv := startServerTLS(t, true)
	ctx := context.Background()
	base := fmt.Sprintf("clickhouse://keelson:s3cret@127.0.0.1:%d/default?dial_timeout=5s", srv.tlsPort)
	// Our CA: verified TLS works.
	db, err := Open(ctx, base+"&tls_ca="+srv.tls.CA, Options{})
	if err != nil {
		t.Fatalf("TLS with tls_ca: %v", err)
	}
	var one uint8
	if err := db.QueryRow(ctx, "SELECT 1", nil, &one); err != nil || one != 1 {
		t.Fatalf("query over TLS: %v", err)
	}
	db.Close()
	// System roots do not know our CA: refused.
	if _, err := Open(ctx, base+"&secure=true", Options{}); err == nil {
		t.Fatal("TLS against an unknown CA accepted")
	}
	// Plain protocol against the TLS port fails too.
	if _, err := Open(ctx, base, Options{}); err == nil {
		t.Fatal("plain connection to the TLS port accepted")
	}
	if _, err := Open(ctx, base+"&tls_ca=/nonexistent.pem", Options{}); !errors.Is(err, ErrURL) {
		t.Fatalf("missing CA file: %v", err)
	}
}
