//go:build shipboard

package main

// shoreCommands is empty in the shipboard build: the collector, the broker,
// decode and healthcheck only.
func shoreCommands() map[string]command { return nil }
