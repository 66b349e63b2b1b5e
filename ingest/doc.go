// Package ingest is Keelson's collector: it reads NMEA 0183 / AIS from
// named inputs (serial ports, TCP client and server, UDP, file replay,
// stdin), decodes each line with package decode, gives every event a stable
// id (collector, boot epoch, sequence), appends the events to a crash-safe
// disk spool and forwards the spool to Kafka in order, removing records only
// after the broker acknowledged them. See docs/collector.md.
package ingest
