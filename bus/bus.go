// Package bus holds the Kafka connection options that every Keelson
// subcommand talking to Kafka shares (brokers, TLS, SASL), the topic names,
// helpers to build kafka-go writers and readers from them, and an embedded
// Kafka-protocol broker (kfake) for development and tests.
package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// The topics of the platform (documented in docs/collector.md).
const (
	// TopicEvents carries every decoded event (AIS and own-ship), one
	// JSON-encoded keelson.Event per message, keyed by Event.Key().
	TopicEvents = "keelson.events"
	// TopicRaw carries the raw NMEA sentences (optional), keyed like the
	// events they belong to.
	TopicRaw = "keelson.raw"
	// TopicDLQ carries dead letters, with the reason in the header
	// HeaderError.
	TopicDLQ = "keelson.dlq"
)

// HeaderError is the Kafka header holding a dead letter's reason.
const HeaderError = "keelson-error"

// EnvPassword is the environment variable holding the SASL password when no
// password file is given.
const EnvPassword = "KEELSON_KAFKA_PASSWORD"

// The SASL mechanisms.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Errors.
var (
	// ErrConfig is wrapped by every Validate error.
	ErrConfig = errors.New("bus: invalid configuration")
	// ErrAuth is returned (wrapped) when the broker refuses our credentials
	// or closes the connection during authentication.
	ErrAuth = errors.New("bus: authentication failed")
	// ErrUnreachable is returned (wrapped) when no broker can be reached.
	ErrUnreachable = errors.New("bus: broker unreachable")
)

// Config is the Kafka connection configuration. The zero value connects to
// localhost:9092 in plain text without authentication.
type Config struct {
	// Brokers are the bootstrap brokers, host:port. Empty: localhost:9092.
	Brokers []string
	// ClientID names this client to the brokers. Empty: "keelson".
	ClientID string

	// TLS enables TLS. It is implied by any of the TLS fields below.
	TLS bool
	// TLSCAFile is a PEM file of CA certificates to trust. Empty: the
	// system roots.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a PEM client certificate and key
	// (mutual TLS). Both or neither.
	TLSCertFile, TLSKeyFile string
	// TLSInsecureSkipVerify disables server certificate verification
	// (testing only).
	TLSInsecureSkipVerify bool
	// TLSServerName overrides the name checked in the server certificate.
	// Empty: the host of the broker address.
	TLSServerName string

	// SASL is the mechanism: "" (none), "plain", "scram-sha-256" or
	// "scram-sha-512".
	SASL string
	// User is the SASL user name.
	User string
	// PasswordFile is a file holding the SASL password (trailing newline
	// ignored). Empty: the environment variable KEELSON_KAFKA_PASSWORD.
	PasswordFile string
	// Password is the SASL password. When empty, it is read from
	// PasswordFile or the environment by Validate. Never logged.
	Password string

	// DialTimeout bounds connection set-up. Zero: 10s.
	DialTimeout time.Duration
}

// RegisterFlags adds the Kafka connection flags to fs. The password itself
// is never a flag: it comes from -kafka-password-file or the environment
// variable KEELSON_KAFKA_PASSWORD.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{"localhost:9092"}
	}
	fs.Func("brokers", "Kafka bootstrap brokers, comma-separated host:port (default localhost:9092)", func(s string) error {
		c.Brokers = splitList(s)
		return nil
	})
	fs.StringVar(&c.ClientID, "kafka-client-id", c.ClientID, "Kafka client id (default keelson)")
	fs.BoolVar(&c.TLS, "kafka-tls", c.TLS, "connect to Kafka with TLS (system CA roots unless -kafka-tls-ca)")
	fs.StringVar(&c.TLSCAFile, "kafka-tls-ca", c.TLSCAFile, "PEM file of CA certificates for Kafka TLS (implies -kafka-tls)")
	fs.StringVar(&c.TLSCertFile, "kafka-tls-cert", c.TLSCertFile, "PEM client certificate for Kafka mutual TLS")
	fs.StringVar(&c.TLSKeyFile, "kafka-tls-key", c.TLSKeyFile, "PEM client key for Kafka mutual TLS")
	fs.StringVar(&c.TLSServerName, "kafka-tls-server-name", c.TLSServerName, "server name expected in the Kafka broker certificate")
	fs.BoolVar(&c.TLSInsecureSkipVerify, "kafka-tls-insecure", c.TLSInsecureSkipVerify, "do not verify the Kafka broker certificate (testing only)")
	fs.StringVar(&c.SASL, "kafka-sasl", c.SASL, "Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	fs.StringVar(&c.User, "kafka-user", c.User, "Kafka SASL user")
	fs.StringVar(&c.PasswordFile, "kafka-password-file", c.PasswordFile, "file holding the Kafka SASL password (default: $"+EnvPassword+")")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// String describes c for logs, with the password redacted.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "brokers=%s", strings.Join(c.brokers(), ","))
	if c.tlsEnabled() {
		b.WriteString(" tls=on")
		if c.TLSCAFile != "" {
			fmt.Fprintf(&b, " ca=%s", c.TLSCAFile)
		}
		if c.TLSCertFile != "" {
			fmt.Fprintf(&b, " cert=%s", c.TLSCertFile)
		}
		if c.TLSInsecureSkipVerify {
			b.WriteString(" insecure")
		}
	}
	if c.SASL != "" {
		fmt.Fprintf(&b, " sasl=%s user=%s password=", c.SASL, c.User)
		if c.Password != "" || c.PasswordFile != "" {
			b.WriteString("[redacted]")
		} else {
			b.WriteString("[none]")
		}
	}
	return b.String()
}

// GoString redacts like String, so %#v does not leak the password.
func (c Config) GoString() string { return "bus.Config{" + c.String() + "}" }

func (c *Config) brokers() []string {
	if len(c.Brokers) == 0 {
		return []string{"localhost:9092"}
	}
	return c.Brokers
}

func (c *Config) tlsEnabled() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSInsecureSkipVerify || c.TLSServerName != ""
}

// Validate checks c and loads the SASL password from PasswordFile or the
// environment when Password is empty. Errors wrap ErrConfig and name the
// flag at fault.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	for _, b := range c.brokers() {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return bad("-brokers: %q is not host:port", b)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return bad("-kafka-tls-cert and -kafka-tls-key go together")
	}
	if c.tlsEnabled() {
		if _, err := c.TLSConfig(); err != nil {
			return err
		}
	}
	switch strings.ToLower(c.SASL) {
	case "":
		if c.User != "" {
			return bad("-kafka-user given without -kafka-sasl")
		}
		return nil
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		c.SASL = strings.ToLower(c.SASL)
	default:
		return bad("-kafka-sasl: unknown mechanism %q (want plain, scram-sha-256 or scram-sha-512)", c.SASL)
	}
	if c.User == "" {
		return bad("-kafka-user is required with -kafka-sasl")
	}
	if c.Password == "" {
		if c.PasswordFile != "" {
			b, err := os.ReadFile(c.PasswordFile)
			if err != nil {
				return bad("-kafka-password-file: %v", err)
			}
			c.Password = strings.TrimRight(string(b), "\r\n")
		} else {
			c.Password = os.Getenv(EnvPassword)
		}
	}
	if c.Password == "" {
		return bad("SASL password missing: set -kafka-password-file or %s", EnvPassword)
	}
	return nil
}

// TLSConfig returns the TLS client configuration, or nil when TLS is off.
func (c *Config) TLSConfig() (*tls.Config, error) {
	if !c.tlsEnabled() {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // explicit testing option
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: -kafka-tls-ca: %v", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: -kafka-tls-ca: no PEM certificate in %s", ErrConfig, c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: -kafka-tls-cert/-kafka-tls-key: %v", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Mechanism returns the SASL mechanism, or nil when SASL is off. Call
// Validate first so that the password is loaded.
func (c *Config) Mechanism() (sasl.Mechanism, error) {
	switch strings.ToLower(c.SASL) {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: c.User, Password: c.Password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, c.User, c.Password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, c.User, c.Password)
	}
	return nil, fmt.Errorf("%w: -kafka-sasl: unknown mechanism %q", ErrConfig, c.SASL)
}

func (c *Config) clientID() string {
	if c.ClientID == "" {
		return "keelson"
	}
	return c.ClientID
}

func (c *Config) dialTimeout() time.Duration {
	if c.DialTimeout <= 0 {
		return 10 * time.Second
	}
	return c.DialTimeout
}

// Dialer returns a kafka-go dialer (for readers and direct connections).
func (c *Config) Dialer() (*kafka.Dialer, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.Mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      c.clientID(),
		Timeout:       c.dialTimeout(),
		DualStack:     true,
		TLS:           tc,
		SASLMechanism: m,
	}, nil
}

// Transport returns a kafka-go transport (for writers and kafka.Client).
func (c *Config) Transport() (*kafka.Transport, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.Mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		ClientID:    c.clientID(),
		DialTimeout: c.dialTimeout(),
		TLS:         tc,
		SASL:        m,
		MetadataTTL: 10 * time.Second,
	}, nil
}

// WriterOptions tune a writer. The zero value suits the collector: batches
// of up to 1,000 messages or 1 MiB per partition, sent at once (1 ms
// linger), zstd.
type WriterOptions struct {
	// BatchSize is the most messages per partition batch. Zero: 1000.
	// (kafka-go allocates room for BatchSize messages per batch: keep it
	// near the real batch size.)
	BatchSize int
	// BatchBytes is the most bytes per partition batch. Zero: 1 MiB.
	BatchBytes int64
	// BatchTimeout is how long a partial batch waits. Zero: 1ms (the
	// caller already batches; WriteMessages is synchronous).
	BatchTimeout time.Duration
	// Compression codec. Zero: zstd.
	Compression kafka.Compression
	// NoCompression disables compression.
	NoCompression bool
	// MaxAttempts is how many times kafka-go tries a batch. Zero: 3.
	MaxAttempts int
	// WriteTimeout bounds one produce request. Zero: 10s.
	WriteTimeout time.Duration
}

// NewWriter returns a synchronous kafka-go writer to topic (empty: each
// message names its topic) with RequiredAcks set explicitly to RequireAll
// (kafka-go's default acknowledges nothing), the Murmur2 balancer (the Java
// client's partitioning, so each key keeps to one partition) and zstd
// compression (with a 1 MiB window: see installCompactZstd). Topics are
// created on demand if the broker allows it.
func (c *Config) NewWriter(topic string, opts ...WriterOptions) (*kafka.Writer, error) {
	var o WriterOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	installCompactZstd()
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = time.Millisecond
	}
	if o.Compression == 0 {
		o.Compression = kafka.Zstd
	}
	if o.NoCompression {
		o.Compression = 0
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	return &kafka.Writer{
		Addr:                   kafka.TCP(c.brokers()...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		Async:                  false,
		Compression:            o.Compression,
		BatchSize:              o.BatchSize,
		BatchBytes:             o.BatchBytes,
		BatchTimeout:           o.BatchTimeout,
		MaxAttempts:            o.MaxAttempts,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		WriteTimeout:           o.WriteTimeout,
		ReadTimeout:            o.WriteTimeout,
		Transport:              newMetaCache(tr),
		AllowAutoTopicCreation: true,
	}, nil
}

// ReaderConfig returns a kafka-go reader configuration for a consumer group
// (group empty: a plain partition reader of the single topic, partition 0).
// Set the error of a failing reader through MapError for a clear message.
func (c *Config) ReaderConfig(group string, topics ...string) kafka.ReaderConfig {
	d, err := c.Dialer()
	if err != nil {
		// Validate reports this; a reader built from a bad config fails
		// on its first dial instead.
		d = &kafka.Dialer{ClientID: c.clientID(), Timeout: c.dialTimeout()}
	}
	rc := kafka.ReaderConfig{
		Brokers:        c.brokers(),
		GroupID:        group,
		Dialer:         d,
		MinBytes:       1,
		MaxBytes:       10 << 20,
		MaxWait:        500 * time.Millisecond,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // commits are explicit and synchronous
	}
	if group != "" && len(topics) != 1 {
		rc.GroupTopics = topics
	} else if len(topics) > 0 {
		rc.Topic = topics[0]
	}
	return rc
}

// Client returns a kafka-go client for admin requests.
func (c *Config) Client() (*kafka.Client, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.brokers()...), Timeout: 30 * time.Second, Transport: tr}, nil
}

// EnsureTopics creates the topics that do not exist yet with the given
// number of partitions (replication factor -1: the broker's default).
func (c *Config) EnsureTopics(ctx context.Context, partitions int, topics ...string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if partitions <= 0 {
		partitions = 1
	}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1})
	}
	resp, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return MapError(fmt.Errorf("bus: create topics: %w", err))
	}
	var errs []error
	for t, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("bus: create topic %s: %w", t, e))
		}
	}
	return MapError(errors.Join(errs...))
}

// Ping checks that a broker can be reached and that it accepts our
// credentials, by fetching metadata.
func (c *Config) Ping(ctx context.Context) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	_, err = cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	return MapError(err)
}

// authError wraps an error as ErrAuth, keeping the cause.
type authError struct{ cause error }

func (e *authError) Error() string {
	return ErrAuth.Error() + " (check -kafka-sasl, -kafka-user and the password): " + e.cause.Error()
}
func (e *authError) Unwrap() []error { return []error{ErrAuth, e.cause} }

// unreachableError wraps an error as ErrUnreachable, keeping the cause.
type unreachableError struct{ cause error }

func (e *unreachableError) Error() string {
	return ErrUnreachable.Error() + ": " + e.cause.Error()
}
func (e *unreachableError) Unwrap() []error { return []error{ErrUnreachable, e.cause} }

// writeErrors summarises kafka-go's WriteErrors (one error per message).
type writeErrors struct {
	failed, total int
	first         error
	all           kafka.WriteErrors
}

func (e *writeErrors) Error() string {
	return fmt.Sprintf("%d of %d messages not written: %v", e.failed, e.total, e.first)
}
func (e *writeErrors) Unwrap() []error { return []error{e.first, e.all} }

// MapError turns kafka-go's errors into the package's: a SASL failure, and
// the bare "unexpected EOF" a broker causes by closing the connection on a
// wrong password (or on a client that does not authenticate), become
// ErrAuth; a refused or timed-out connection becomes ErrUnreachable. Other
// errors are returned unchanged; nil stays nil.
func MapError(err error) error {
	if err == nil || errors.Is(err, ErrAuth) || errors.Is(err, ErrUnreachable) {
		return err
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState,
			kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed, kafka.GroupAuthorizationFailed:
			return &authError{err}
		}
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		// One line instead of one error per message: the count and the
		// first failure, an authentication failure first.
		failed := 0
		var first error
		for _, e := range we {
			if e == nil {
				continue
			}
			failed++
			if m := MapError(e); first == nil || (errors.Is(m, ErrAuth) && !errors.Is(first, ErrAuth)) {
				first = m
			}
		}
		if first != nil {
			return &writeErrors{failed: failed, total: len(we), first: first, all: we}
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") ||
		strings.Contains(err.Error(), "SASL") {
		return &authError{err}
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return &unreachableError{err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &unreachableError{err}
	}
	return err
}
