package sink

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	consumed, inserted, dead, batches prometheus.Counter
	rows, retries                     *prometheus.CounterVec
	batchSeconds                      prometheus.Histogram
	lag                               *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_sink_consumed_total",
			Help: "Kafka messages consumed."}),
		inserted: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_sink_inserted_events_total",
			Help: "Events inserted into ClickHouse (acknowledged)."}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_sink_dead_lettered_total",
			Help: "Messages sent to the dead-letter topic."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_sink_batches_total",
			Help: "Batches landed and committed."}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_sink_inserted_rows_total",
			Help: "Rows inserted, by table."}, []string{"table"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_sink_retries_total",
			Help: "Retried operations (fetch, fetch_timeout, dlq, insert, commit)."}, []string{"op"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keelson_sink_batch_seconds",
			Help: "Time to land a batch (dead letters, insert, commit), retries included.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keelson_sink_lag",
			Help: "Messages behind the high-water mark, by partition, as of the last message read."}, []string{"topic", "partition"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.consumed, m.inserted, m.dead, m.batches, m.rows, m.retries, m.batchSeconds, m.lag} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
