package ais

import "github.com/keelson/keelson"

func fill(e *keelson.Event, m Message) {}
