//go:build !shipboard

package main

// shoreCommands are the subcommands that run ashore: they need ClickHouse,
// the API or the map page. The shipboard build (-tags shipboard) leaves
// them out, for a smaller collector binary on the ship's computer
// (resident memory: see docs/BENCHMARKS.md, "Collector").
func shoreCommands() map[string]command {
	return map[string]command{
		"demo":    {"run the whole pipeline in one process (embedded Kafka and ClickHouse) with the map", runDemo},
		"import":  {"load historical AIS archives (NOAA, DMA, CSV, NMEA; gzip/zstd) into ClickHouse", runImport},
		"keys":    {"create, list and revoke API keys (stored hashed in ClickHouse)", runKeys},
		"migrate": {"create or upgrade the ClickHouse schema (versioned, idempotent)", runMigrate},
		"serve":   {"run the query API (and the map page) over ClickHouse, with a live stream from Kafka", runServe},
		"sink":    {"consume Kafka events into ClickHouse, effectively once", runSink},
		"sql":     {"run one read-only SQL query on ClickHouse, print TSV or JSON", runSQL},
	}
}
