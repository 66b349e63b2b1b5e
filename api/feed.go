package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/keelson/keelson"
	"github.com/segmentio/kafka-go"
)

// KafkaFeed returns a Feed reading Keelson events (JSON, one per message)
// with a kafka-go reader of rc. Give each API instance a consumer group of
// its own (and StartOffset kafka.LastOffset for a live view): every
// instance must see every partition. Offsets are not committed: the feed
// is a live view, not a ledger. Messages that are not events are skipped.
func KafkaFeed(rc kafka.ReaderConfig) Feed {
	return func(ctx context.Context, fn func(ev *keelson.Event)) error {
		r := kafka.NewReader(rc)
		defer r.Close()
		var ev keelson.Event
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("api: live feed: %w", err)
			}
			ev = keelson.Event{}
			if err := json.Unmarshal(m.Value, &ev); err != nil || ev.Kind == "" {
				continue
			}
			fn(&ev)
		}
	}
}
