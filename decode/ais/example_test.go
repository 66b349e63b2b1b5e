package ais_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/decode/ais"
)

func ExampleDecoder_Decode() {
	var d ais.Decoder // reuse one Decoder per goroutine
	// The payload of !AIVDM,1,1,,A,15N1u<PP1FJuvSRHOE6QIwwh0HQ6,0*30
	m, err := d.Decode([]byte("15N1u<PP1FJuvSRHOE6QIwwh0HQ6"), 0)
	if err != nil {
		panic(err)
	}
	p := m.(*ais.PositionReport)
	fmt.Println(p.MMSI(), p.Type(), p.Lat(), p.Lon(), p.SOG(), p.COG(), p.Heading().Valid())
	// Output: 367033650 1 42.79855 -70.346905 8.6 35.9 false
}

func ExampleDecoder_Decode_errors() {
	var d ais.Decoder
	_, err := d.Decode([]byte("15N1u<PP1FJ"), 0)
	fmt.Println(errors.Is(err, ais.ErrShort), err)
	_, err = d.Decode([]byte("15N1u<PP1FJuvSRHOE6QIwwh0HQ!"), 0)
	fmt.Println(errors.Is(err, ais.ErrBadPayloadChar))
	// Output:
	// true ais: message too short: type 1 has 66 bits, needs 149
	// true
}

func ExampleMessage_AppendJSON() {
	var d ais.Decoder
	m, _ := d.Decode([]byte("15N1u<PP1FJuvSRHOE6QIwwh0HQ6"), 0)
	fmt.Println(string(m.AppendJSON(nil)))
	// Output: {"type":1,"repeat":0,"mmsi":367033650,"status":0,"rot":null,"sog":8.6,"accuracy":false,"lon":-70.346905,"lat":42.79855,"cog":35.9,"heading":null,"second":56,"maneuver":0,"raim":false,"radio":100422}
}

func ExampleMessage_AppendGPSD() {
	var d ais.Decoder
	m, _ := d.Decode([]byte("15N1u<PP1FJuvSRHOE6QIwwh0HQ6"), 0)
	fmt.Println(string(m.AppendGPSD(nil)))
	// Output: {"class":"AIS","device":"stdin","type":1,"repeat":0,"mmsi":367033650,"scaled":true,"status":0,"status_text":"Under way using engine","turn":"nan","speed":8.6,"accuracy":false,"lon":-70.346905,"lat":42.798550,"course":35.9,"heading":511,"second":56,"maneuver":0,"raim":false,"radio":100422}
}

func ExampleFill() {
	var d ais.Decoder
	// IMO236 met/hydro data (type 8, DAC 1, FI 11) from dma_decode_encode_messages.txt.
	m, _ := d.Decode([]byte("802R5Ph0Bk@Ch@Fln<ljQhs2HGwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwt"), 2)
	e := keelson.Event{Received: time.Date(2010, 6, 20, 12, 0, 0, 0, time.UTC)}
	ais.Fill(&e, m)
	o := e.Observation
	fmt.Println(e.Kind, e.MMSI, o.DAC, o.FI, o.Time, o.WindSpeed, o.WindDirection, o.AirTemp.Valid())
	// Output: observation 002655619 1 11 2010-06-19 09:37:00 +0000 UTC 7 194 false
}
