package ingest_test

import (
	"fmt"

	"github.com/keelson/keelson/ingest"
)

func ExampleParseInput() {
	for _, s := range []string{
		"ais=serial:///dev/ttyUSB0?baud=38400",
		"udp://:10110",
		"file://testdata/day.nmea?speed=0",
	} {
		spec, err := ingest.ParseInput(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %s %s finite=%v\n", spec.Name, spec.Kind, spec.Addr, spec.Finite())
	}
	// Output:
	// ais serial /dev/ttyUSB0 finite=false
	// udp::10110 udp :10110 finite=false
	// file:testdata/day.nmea file testdata/day.nmea finite=true
}
