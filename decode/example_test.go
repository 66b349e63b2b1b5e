package decode_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/decode"
)

func ExampleDecoder_Decode() {
	d := decode.NewDecoder(decode.Config{})
	recv := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var evs []keelson.Event
	for _, line := range []string{
		// A two-sentence type 5 (dma_stream_example.txt): the first line completes nothing.
		"!AIVDM,2,1,1,,53cMa3@000010WSW?V105=<45B2222222222220t388151:9e2UiDm851DTh,0*65",
		"!AIVDM,2,2,1,,j1C32CQp888,2*17",
		"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C", // bad checksum
		"$SDDPT,5.3,0.4,*79",
	} {
		var err error
		evs, err = d.Decode(evs, []byte(line), recv)
		if errors.Is(err, decode.ErrChecksum) {
			fmt.Println("dropped:", err)
		}
	}
	for _, e := range evs {
		fmt.Println(e.Kind, e.AISType, e.MMSI)
	}
	s := d.Stats()
	fmt.Println(s.Lines, s.Messages, s.Errors, s.ByError)
	// Output:
	// dropped: decode: sentence checksum mismatch: got 2C, want 2B
	// static 5 246901005
	// telemetry 0 000000000
	// 4 2 1 map[checksum:1]
}

func ExampleDecoder_Scan() {
	d := decode.NewDecoder(decode.Config{})
	line := []byte(`\s:rORBCOMM104,c:1418172113*23\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep` + "`" + `iToV0<00,0*78`)
	err := d.Scan(line, time.Time{}, func(m *decode.Message) {
		fmt.Println(m.Formatter, m.Talker, m.Channel, m.Station, m.TagTime.Unix(), m.AIS.Type(), m.AIS.MMSI())
	})
	fmt.Println(err)
	// Output:
	// VDM AI B rORBCOMM104 1418172113 1 224651000
	// <nil>
}

func ExampleFrame() {
	var s decode.Sentence
	line := []byte("!AIVDM,1,1,,A,15B4FT5000JRP>PE6E68Nbkl0PS5,0*70,b003669794,1272412827") // libais_test.aivdm
	_, err := decode.Frame(&s, line, false)
	fmt.Printf("%s %s %q %q %v\n", s.Talker, s.Formatter, s.Fields, s.Trailer, err)
	// Output:
	// AI VDM "1,1,,A,15B4FT5000JRP>PE6E68Nbkl0PS5,0" "b003669794,1272412827" <nil>
}
