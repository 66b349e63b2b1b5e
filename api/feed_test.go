package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/storage"
	"github.com/segmentio/kafka-go"
)

func storageLimits() storage.QueryLimits { return storage.QueryLimits{} }

// kafkaFeedForTest starts the embedded broker on a TCP port and returns a
// KafkaFeed reading keelson.events and a function publishing events to it.
func kafkaFeedForTest(t *testing.T) (Feed, func(evs ...keelson.Event)) {
	t.Helper()
	ctx := context.Background()
	b, err := bus.StartBroker(ctx, bus.BrokerConfig{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cfg := bus.Config{Brokers: []string{b.Addr()}}
	if err := cfg.EnsureTopics(ctx, 2, bus.TopicEvents); err != nil {
		t.Fatal(err)
	}
	w, err := cfg.NewWriter(bus.TopicEvents)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	rc := cfg.ReaderConfig("keelson-api-test", bus.TopicEvents)
	rc.StartOffset = kafka.FirstOffset
	rc.MaxWait = 50 * time.Millisecond
	return KafkaFeed(rc), func(evs ...keelson.Event) {
		for _, ev := range evs {
			v, _ := json.Marshal(ev)
			// One write per event keeps their order across partitions.
			if err := w.WriteMessages(ctx, kafka.Message{Key: ev.Key(), Value: v}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// liveServer is a server over the test data whose index is kept current by
// a live feed from a real Kafka-protocol broker, running until the test
// ends; it returns the server, its URL and the broker's publish.
func (e *testEnv) liveServer(t *testing.T) (*Server, string, func(evs ...keelson.Event)) {
	t.Helper()
	feed, publish := kafkaFeedForTest(t)
	srv, err := New(Config{Store: e.db.Reader(storageLimits()), Keys: e.db, Feed: feed, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Run(ctx)
	for !srv.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	return srv, httptestServer(t, srv), publish
}
