package bus_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/bus/bustest"
)

func TestConfigFlagsAndValidate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c bus.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"-brokers", "a:9092, b:9093", "-kafka-sasl", "SCRAM-SHA-512", "-kafka-user", "ship", "-kafka-password-file", pw}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Brokers, ","); got != "a:9092,b:9093" {
		t.Errorf("brokers = %q", got)
	}
	if c.Password != "s3cret" || c.SASL != bus.SASLScramSHA512 {
		t.Errorf("password/sasl not loaded: sasl=%q", c.SASL)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("password leaked: %s", s)
		}
	}

	t.Setenv(bus.EnvPassword, "fromenv")
	c2 := bus.Config{SASL: "plain", User: "u"}
	if err := c2.Validate(); err != nil || c2.Password != "fromenv" {
		t.Errorf("env password: %v %q", err, c2.Password)
	}

	bad := []struct {
		name string
		c    bus.Config
		want string
	}{
		{"broker without port", bus.Config{Brokers: []string{"host"}}, "-brokers"},
		{"unknown sasl", bus.Config{SASL: "kerberos", User: "u", Password: "p"}, "-kafka-sasl"},
		{"sasl without user", bus.Config{SASL: "plain", Password: "p"}, "-kafka-user"},
		{"cert without key", bus.Config{TLSCertFile: "x"}, "-kafka-tls-key"},
		{"missing ca", bus.Config{TLSCAFile: filepath.Join(dir, "nope.pem")}, "-kafka-tls-ca"},
		{"missing password file", bus.Config{SASL: "plain", User: "u", PasswordFile: filepath.Join(dir, "nope")}, "-kafka-password-file"},
	}
	for _, tc := range bad {
		err := tc.c.Validate()
		if !errors.Is(err, bus.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrConfig naming %s", tc.name, err, tc.want)
		}
	}
	t.Setenv(bus.EnvPassword, "")
	c3 := bus.Config{SASL: "plain", User: "u"}
	if err := c3.Validate(); !errors.Is(err, bus.ErrConfig) {
		t.Errorf("missing password: %v", err)
	}
}

// roundTrip writes n keyed messages with a bus writer and reads them back
// with a consumer group reader built by cfg.ReaderConfig.
func roundTrip(ctx context.Context, t *testing.T, cfg bus.Config, topic string, n int) {
	t.Helper()
	w, err := cfg.NewWriter(topic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.RequiredAcks != kafka.RequireAll {
		t.Fatalf("RequiredAcks = %v", w.RequiredAcks)
	}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("%09d", 200000000+i%7)), Value: []byte(fmt.Sprintf(`{"i":%d}`, i))}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", bus.MapError(err))
	}
	r := kafka.NewReader(cfg.ReaderConfig("g-"+topic, topic))
	defer r.Close()
	seen := map[string]bool{}
	lastByKey := map[string]int{}
	for len(seen) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read after %d: %v", len(seen), err)
		}
		var i int
		fmt.Sscanf(string(m.Value), `{"i":%d}`, &i)
		if prev, ok := lastByKey[string(m.Key)]; ok && i <= prev {
			t.Fatalf("key %s out of order: %d after %d", m.Key, i, prev)
		}
		lastByKey[string(m.Key)] = i
		seen[string(m.Value)] = true
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBrokerRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := bus.StartBroker(ctx, bus.BrokerConfig{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := bus.Config{Brokers: []string{b.Addr()}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureTopics(ctx, 3, bus.TopicEvents, bus.TopicRaw, bus.TopicDLQ); err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureTopics(ctx, 3, bus.TopicEvents); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	roundTrip(ctx, t, cfg, bus.TopicEvents, 500)
}

func TestBrokerPersists(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	b, err := bus.StartBroker(ctx, bus.BrokerConfig{DataDir: dir, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bus.Config{Brokers: []string{b.Addr()}}
	w, _ := cfg.NewWriter("persist")
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v1")}, kafka.Message{Key: []byte("k"), Value: []byte("v2")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b.Close()
	b2, err := bus.StartBroker(ctx, bus.BrokerConfig{DataDir: dir, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	cfg.Brokers = []string{b2.Addr()}
	r := kafka.NewReader(cfg.ReaderConfig("g", "persist"))
	defer r.Close()
	for _, want := range []string{"v1", "v2"} {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Value) != want {
			t.Fatalf("got %q want %q", m.Value, want)
		}
	}
}

// TestBrokerTLSSASL checks TLS with each SASL mechanism, and that wrong or
// missing credentials are refused with ErrAuth.
func TestBrokerTLSSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers")
	}
	files, srvTLS, err := bustest.WriteTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{bus.SASLPlain, bus.SASLScramSHA256, bus.SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b, err := bus.StartBroker(ctx, bus.BrokerConfig{
				Partitions: 2, TLS: srvTLS,
				Users: []bus.BrokerUser{{Mechanism: mech, User: "ship", Password: "right"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			good := bus.Config{Brokers: []string{b.Addr()}, TLSCAFile: files.CA, TLSCertFile: files.ClientCert, TLSKeyFile: files.ClientKey,
				SASL: mech, User: "ship", Password: "right"}
			if err := good.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := good.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			roundTrip(ctx, t, good, "tls-"+mech, 50)

			wrong := good
			wrong.Password = "wrong"
			assertAuth(ctx, t, wrong)
			none := good
			none.SASL, none.User, none.Password = "", "", ""
			assertAuth(ctx, t, none)

			noTLS := good
			noTLS.TLS, noTLS.TLSCAFile, noTLS.TLSCertFile, noTLS.TLSKeyFile = false, "", "", ""
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			defer pcancel()
			if err := noTLS.Ping(pctx); err == nil {
				t.Error("plain-text client accepted by a TLS broker")
			}
		})
	}
}

func assertAuth(ctx context.Context, t *testing.T, cfg bus.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := cfg.Ping(ctx)
	if !errors.Is(err, bus.ErrAuth) {
		t.Errorf("ping with %s: err = %v, want ErrAuth", cfg, err)
	}
	w, _ := cfg.NewWriter("auth")
	defer w.Close()
	err = bus.MapError(w.WriteMessages(ctx, kafka.Message{Value: []byte("x")}))
	if !errors.Is(err, bus.ErrAuth) {
		t.Errorf("write with %s: err = %v, want ErrAuth", cfg, err)
	}
	if err != nil && strings.Contains(err.Error(), "right") {
		t.Errorf("error leaks password: %v", err)
	}
}

func TestMapErrorUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("dials")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := bus.Config{Brokers: []string{"127.0.0.1:1"}}
	if err := cfg.Ping(ctx); !errors.Is(err, bus.ErrUnreachable) {
		t.Errorf("err = %v, want ErrUnreachable", err)
	}
}

func TestMapErrorSummarisesWriteErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	we := make(kafka.WriteErrors, 195)
	for i := range we {
		if i%3 != 0 {
			we[i] = refused
		}
	}
	err := bus.MapError(fmt.Errorf("write: %w", we))
	if !errors.Is(err, bus.ErrUnreachable) {
		t.Fatalf("bus.MapError(WriteErrors of refused dials) = %v, want bus.ErrUnreachable", err)
	}
	var back kafka.WriteErrors
	if !errors.As(err, &back) || len(back) != 195 {
		t.Fatalf("the per-message errors are lost: %v", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "130 of 195 messages not written: ") || strings.Count(msg, "refused") != 1 {
		t.Errorf("message = %q, want one line with the count and the first failure", msg)
	}
	we[5] = kafka.SASLAuthenticationFailed
	if err := bus.MapError(we); !errors.Is(err, bus.ErrAuth) {
		t.Errorf("an authentication failure among write errors: %v, want bus.ErrAuth", err)
	}
}
