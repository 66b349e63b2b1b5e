package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BrokerUser is a SASL user of the embedded broker.
type BrokerUser struct {
	Mechanism string // "plain", "scram-sha-256" or "scram-sha-512"
	User      string
	Password  string
}

// BrokerConfig configures the embedded broker. The zero value listens on a
// random port of 127.0.0.1, keeps everything in memory and creates topics
// with 10 partitions on demand.
type BrokerConfig struct {
	// Listen is the host:port to listen on. Empty: "127.0.0.1:0".
	Listen string
	// Advertise is the host:port announced to clients in metadata. Empty:
	// the listening address (with 0.0.0.0 or :: replaced by 127.0.0.1).
	Advertise string
	// DataDir persists the log (fsynced on every produce). Empty: memory.
	DataDir string
	// Partitions is the partition count of auto-created topics. Zero: 10.
	Partitions int
	// TLS, when set, makes the broker speak TLS only.
	TLS *tls.Config
	// Users enables SASL with these users (all superusers).
	Users []BrokerUser
	// Logger receives the broker's warnings. Nil: silent.
	Logger *slog.Logger
}

// Validate checks c.
func (c *BrokerConfig) Validate() error {
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("%w: -listen: %q is not host:port", ErrConfig, c.Listen)
		}
	}
	if c.Partitions < 0 {
		return fmt.Errorf("%w: -partitions: %d is negative", ErrConfig, c.Partitions)
	}
	for _, u := range c.Users {
		if _, err := kfakeMechanism(u.Mechanism); err != nil {
			return err
		}
		if u.User == "" || u.Password == "" {
			return fmt.Errorf("%w: broker SASL user needs a name and a password", ErrConfig)
		}
	}
	return nil
}

func kfakeMechanism(m string) (string, error) {
	switch strings.ToLower(m) {
	case SASLPlain:
		return "PLAIN", nil
	case SASLScramSHA256:
		return "SCRAM-SHA-256", nil
	case SASLScramSHA512:
		return "SCRAM-SHA-512", nil
	}
	return "", fmt.Errorf("%w: unknown SASL mechanism %q", ErrConfig, m)
}

// Broker is an embedded single-node Kafka-protocol broker (kfake).
type Broker struct {
	c    *kfake.Cluster
	addr string
	once sync.Once
	stop chan struct{}
}

// StartBroker starts an embedded broker. It stops when ctx is done or on
// Close.
func StartBroker(ctx context.Context, cfg BrokerConfig) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	parts := cfg.Partitions
	if parts == 0 {
		parts = 10
	}
	advertise := cfg.Advertise
	listenFn := func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, listen)
		if err != nil {
			return nil, err
		}
		adv := advertise
		if adv == "" {
			host, port, _ := net.SplitHostPort(ln.Addr().String())
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				host = "127.0.0.1"
			}
			adv = net.JoinHostPort(host, port)
		}
		return &advListener{Listener: ln, adv: adv}, nil
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listenFn),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(parts),
		kfake.ClusterID("keelson"),
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(kfakeLogger{cfg.Logger}))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir), kfake.SyncWrites())
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			m, _ := kfakeMechanism(u.Mechanism)
			opts = append(opts, kfake.Superuser(m, u.User, u.Password))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: start broker on %s: %w", listen, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, errors.New("bus: broker has no listener")
	}
	b := &Broker{c: c, addr: addrs[0], stop: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			b.Close()
		case <-b.stop:
		}
	}()
	return b, nil
}

// Addr returns the broker's advertised host:port.
func (b *Broker) Addr() string { return b.addr }

// Cluster returns the underlying kfake cluster (for tests that inject
// faults).
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker (flushing its data directory). It is safe to call
// more than once.
func (b *Broker) Close() error {
	b.once.Do(func() {
		close(b.stop)
		b.c.Close()
	})
	return nil
}

// advListener reports the advertised address as its own, which is what
// kfake announces in metadata.
type advListener struct {
	net.Listener
	adv string
}

func (l *advListener) Addr() net.Addr { return advAddr(l.adv) }

type advAddr string

func (a advAddr) Network() string { return "tcp" }
func (a advAddr) String() string  { return string(a) }

// kfakeLogger adapts slog to kfake's logger.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	s := fmt.Sprintf(msg, args...)
	switch level {
	case kfake.LogLevelError:
		k.l.Error(s)
	case kfake.LogLevelWarn:
		k.l.Warn(s)
	default:
		k.l.Debug(s)
	}
}
