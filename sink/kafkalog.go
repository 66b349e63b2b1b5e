package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Fetch timeouts. kafka-go's partition readers give each fetch a socket
// deadline of MaxWait and ask the broker to wait a little less (for a
// MaxWait of 500ms the broker may hold the fetch 375ms, leaving 125ms). On
// an idle partition of a busy machine (the embedded ClickHouse inserting on
// both cores) the response routinely comes later than that: the reader logs
// "the kafka reader got an unknown error reading partition ...: i/o
// timeout", reconnects and goes on, nothing lost. The sink widens the
// margin (readerMaxWait) and logs isolated timeouts at debug level; a run of
// them (timeoutBurst within timeoutWindow: a broker or network that really
// does not answer) is still a warning.
const (
	// readerMaxWait: the broker holds an empty fetch 500ms and the
	// response has 1s to arrive.
	readerMaxWait = 1500 * time.Millisecond
	timeoutWindow = time.Minute
	timeoutBurst  = 5
)

// kafkaErrorLog is the kafka-go ErrorLogger of the sink's reader.
type kafkaErrorLog struct {
	log      *slog.Logger
	timeouts prometheus.Counter
	now      func() time.Time

	mu    sync.Mutex
	since time.Time // start of the current window
	n     int       // timeouts in the window
}

func newKafkaErrorLog(log *slog.Logger, timeouts prometheus.Counter) *kafkaErrorLog {
	return &kafkaErrorLog{log: log, timeouts: timeouts, now: time.Now}
}

// Printf implements kafka.Logger.
func (l *kafkaErrorLog) Printf(msg string, args ...any) {
	text := "kafka: " + fmt.Sprintf(msg, args...)
	if !hasTimeout(args) {
		l.log.Warn(text)
		return
	}
	l.timeouts.Inc()
	now := l.now()
	l.mu.Lock()
	if now.Sub(l.since) > timeoutWindow {
		l.since, l.n = now, 0
	}
	l.n++
	n := l.n
	l.mu.Unlock()
	if n >= timeoutBurst {
		l.log.Warn(text, "timeouts_in_last_minute", n)
		return
	}
	l.log.Debug(text, "retry", "kafka-go reconnects and fetches again")
}

// hasTimeout reports whether one of the arguments is a network timeout.
func hasTimeout(args []any) bool {
	for _, a := range args {
		err, ok := a.(error)
		if !ok {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return true
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return true
		}
	}
	return false
}
