package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics are the collector's Prometheus metrics (prefix keelson_collector_).
type metrics struct {
	read, decoded, dropped *prometheus.CounterVec
	failed                 *prometheus.CounterVec
	inputUp                *prometheus.GaugeVec
	spooled, sent          prometheus.Counter
	spoolErrors            prometheus.Counter
	sendErrors             *prometheus.CounterVec
	link                   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, sp *Spool) *metrics {
	const ns = "keelson_collector_"
	m := &metrics{
		read: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "sentences_read_total",
			Help: "Lines read from each input."}, []string{"input"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "lines_dropped_total",
			Help: "Lines a live input dropped because the decode queue was full."}, []string{"input"}),
		decoded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "decoded_total",
			Help: "Messages decoded (events made) per input."}, []string{"input"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "failed_total",
			Help: "Lines or messages that failed to decode, by reason (decode.ErrorName)."}, []string{"input", "reason"}),
		inputUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "input_connected",
			Help: "1 while a socket or serial input is connected."}, []string{"input"}),
		spooled: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "events_spooled_total",
			Help: "Events appended to the disk spool."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "events_sent_total",
			Help: "Events acknowledged by Kafka."}),
		spoolErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "spool_errors_total",
			Help: "Failed spool appends (their events are lost)."}),
		sendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "send_errors_total",
			Help: "Failed Kafka writes (retried), by reason: unreachable, auth, timeout, other."}, []string{"reason"}),
		link: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "link_up",
			Help: "1 while the last Kafka write succeeded, 0 while writes fail."}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.read, m.dropped, m.decoded, m.failed, m.inputUp, m.spooled, m.sent, m.spoolErrors, m.sendErrors, m.link,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "spool_bytes", Help: "Size of the spool on disk."},
			func() float64 { return float64(sp.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "spool_pending_events", Help: "Events spooled, not yet acknowledged."},
			func() float64 { return float64(sp.Stats().Pending) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: ns + "spool_dropped_events_total",
			Help: "Unsent events deleted by the spool size cap (drop oldest)."},
			func() float64 { return float64(sp.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: ns + "spool_corrupt_records_total",
			Help: "Torn or corrupt spool records cut when the spool was opened."},
			func() float64 { return float64(sp.Stats().Corrupt) }),
	)
	return m
}
