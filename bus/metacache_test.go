package bus

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// The writer's transport answers repeated one-topic metadata requests from
// its cache for metaCacheTTL, and nothing else.
func TestMetaCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := StartBroker(ctx, BrokerConfig{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := Config{Brokers: []string{b.Addr()}}
	tr, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	m := newMetaCache(tr)
	addr := kafka.TCP(b.Addr())
	get := func(req *metadataAPI.Request) *metadataAPI.Response {
		t.Helper()
		res, err := m.RoundTrip(ctx, addr, req)
		if err != nil {
			t.Fatal(err)
		}
		return res.(*metadataAPI.Response)
	}
	one := &metadataAPI.Request{TopicNames: []string{"meta.cache"}, AllowAutoTopicCreation: true}
	var first *metadataAPI.Response
	for first == nil || first.Topics[0].ErrorCode != 0 { // the topic is being created
		if ctx.Err() != nil {
			t.Fatal("topic never became ready")
		}
		first = get(one)
	}
	if n := len(first.Topics[0].Partitions); n != 3 {
		t.Fatalf("%d partitions, want 3", n)
	}
	if again := get(one); again != first {
		t.Error("second one-topic request within the TTL was not answered from the cache")
	}
	all := &metadataAPI.Request{}
	if get(all) == get(all) {
		t.Error("an all-topics request was answered from the cache")
	}
	m.mu.Lock()
	for k, e := range m.topics {
		e.at = e.at.Add(-metaCacheTTL)
		m.topics[k] = e
	}
	m.mu.Unlock()
	if later := get(one); later == first || len(later.Topics[0].Partitions) != 3 {
		t.Error("an expired entry was reused")
	}
}
