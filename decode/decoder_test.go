package decode

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
)

var recv0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// TestOwnShip decodes one real sentence of each own-ship type (from
// testdata/gnss; ROT is go-nmea's test sentence, no capture has one) and
// compares the event's JSON.
func TestOwnShip(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"$GPRMC,030719.000,A,3747.0873,S,17518.8938,E,0.69,181.39,311214,,,A*7D",
			`{"v":1,"kind":"position","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"position":{"point":[175.3148966666667,-37.78478833333334],"class":"ownship","sog":0.69,"cog":181.39,"heading":null,"rot":null,"nav_status":15,"accuracy":false,"raim":false,"second":19}}`},
		{"$GPGGA,030719.000,3747.0873,S,17518.8938,E,1,08,1.1,59.9,M,23.7,M,,0000*7D",
			`{"v":1,"kind":"position","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"position":{"point":[175.3148966666667,-37.78478833333334],"class":"ownship","sog":null,"cog":null,"heading":null,"rot":null,"nav_status":15,"accuracy":false,"raim":false,"second":19,"altitude":59.9,"fix_quality":1,"satellites":8,"hdop":1.1}}`},
		{"$GPGGA,,,,,,0,,,,M,,M,,*66",
			`{"v":1,"kind":"position","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":88,"position":{"point":[0,0],"class":"ownship","sog":null,"cog":null,"heading":null,"rot":null,"nav_status":15,"accuracy":false,"raim":false,"second":60}}`},
		{"$GPGLL,5251.0093,N,00518.8170,E,094736,A,A*43",
			`{"v":1,"kind":"position","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"position":{"point":[5.313616666666666,52.850154999999994],"class":"ownship","sog":null,"cog":null,"heading":null,"rot":null,"nav_status":15,"accuracy":false,"raim":false,"second":36}}`},
		{"$GPVTG,230.5,T,229.1,M,5.6,N,10.4,K,A*19",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"VTG","readings":[{"quantity":"cog_true","value":230.5,"unit":"deg"},{"quantity":"cog_magnetic","value":229.1,"unit":"deg"},{"quantity":"sog","value":5.6,"unit":"kn"}]}}`},
		{"$GPHDT,274.07,T*03",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"HDT","readings":[{"quantity":"heading_true","value":274.07,"unit":"deg"}]}}`},
		{"$SDHDG,229.8,,,1.3,E*36",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"SD"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"HDG","readings":[{"quantity":"heading_magnetic","value":229.8,"unit":"deg"},{"quantity":"magnetic_variation","value":1.3,"unit":"deg"}]}}`},
		{"$HEROT,-11.23,A*07",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"HE"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"ROT","readings":[{"quantity":"rot","value":-11.23,"unit":"deg/min"}]}}`},
		{"$GPZDA,094737,20,08,2018,-01,00*6B",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"ZDA","readings":[{"quantity":"utc_time","value":1534758457,"unit":"s"},{"quantity":"tz_offset","value":-60,"unit":"min"}]}}`},
		{"$SDDPT,5.3,0.4,*79",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"SD"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"DPT","readings":[{"quantity":"depth","value":5.3,"unit":"m"},{"quantity":"depth_offset","value":0.4,"unit":"m"}]}}`},
		{"$SDDBT,18.0,f,5.4,M,3.0,F*3D",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"SD"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"DBT","readings":[{"quantity":"depth","value":5.4,"unit":"m"}]}}`},
		{"$INMTW,17.9,C*1B",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"IN"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"MTW","readings":[{"quantity":"water_temp","value":17.9,"unit":"degC"}]}}`},
		{"$WIMWV,57.5,R,13.0,N,A*26",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"WI"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"MWV","readings":[{"quantity":"wind_angle_apparent","value":57.5,"unit":"deg"},{"quantity":"wind_speed_apparent","value":13,"unit":"kn"}]}}`},
		{"$WIMWV,96.6,T,11.2,N,A*2E",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"WI"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"MWV","readings":[{"quantity":"wind_angle_true","value":96.6,"unit":"deg"},{"quantity":"wind_speed_true","value":11.2,"unit":"kn"}]}}`},
		{"$SDVHW,231.3,T,229.9,M,6.6,N,12.3,K*71",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"SD"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"VHW","readings":[{"quantity":"heading_true","value":231.3,"unit":"deg"},{"quantity":"heading_magnetic","value":229.9,"unit":"deg"},{"quantity":"stw","value":6.6,"unit":"kn"}]}}`},
		{"$SDVLW,,N,545.6,N,1109.4,N,393.6,N*44",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"SD"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"VLW","readings":[{"quantity":"log_trip","value":545.6,"unit":"nmi"},{"quantity":"log_ground_total","value":1109.4,"unit":"nmi"},{"quantity":"log_ground_trip","value":393.6,"unit":"nmi"}]}}`},
		{"$IIXDR,C,,C,AIRTEMP,A,-1.0,D,HEEL,A,2.9,D,TRIM,P,,B,BARO,A,-3.9,D,RUDDER*29",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"II"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"XDR","readings":[{"quantity":"temperature","value":null,"unit":"degC","sensor":"AIRTEMP"},{"quantity":"angle","value":-1,"unit":"deg","sensor":"HEEL"},{"quantity":"angle","value":2.9,"unit":"deg","sensor":"TRIM"},{"quantity":"pressure","value":null,"unit":"hPa","sensor":"BARO"},{"quantity":"angle","value":-3.9,"unit":"deg","sensor":"RUDDER"}]}}`},
		{"$WIMWD,328.2,T,326.8,M,11.2,N,5.8,M*61",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"WI"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"MWD","readings":[{"quantity":"wind_direction_true","value":328.2,"unit":"deg"},{"quantity":"wind_direction_magnetic","value":326.8,"unit":"deg"},{"quantity":"wind_speed_true","value":11.2,"unit":"kn"}]}}`},
		{"$GPGSA,A,3,07,08,10,16,20,21,26,27,29,76,75,70,1.10,0.60,0.90*0B",
			`{"v":1,"kind":"telemetry","received":"2026-11-27T12:00:00Z","source":{"talker":"GP"},"mmsi":244000001,"vessel":"Keelson","flags":64,"telemetry":{"sentence":"GSA","readings":[{"quantity":"fix_type","value":3,"unit":""},{"quantity":"satellites_used","value":12,"unit":""},{"quantity":"pdop","value":1.1,"unit":""},{"quantity":"hdop","value":0.6,"unit":""},{"quantity":"vdop","value":0.9,"unit":""}]}}`},
	}
	d := NewDecoder(Config{OwnMMSI: 244000001, Vessel: "Keelson"})
	for _, tt := range tests {
		evs, err := d.Decode(nil, []byte(tt.raw+"\r\n"), recv0)
		if err != nil || len(evs) != 1 {
			t.Errorf("%s: %d events, %v", tt.raw, len(evs), err)
			continue
		}
		if got := string(evs[0].AppendJSON(nil)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.raw, got, tt.want)
		}
	}
	if s := d.Stats(); s.Messages != uint64(len(tests)) || s.Errors != 0 || s.ByType["MWV"] != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestOwnShipErrors(t *testing.T) {
	d := NewDecoder(Config{})
	// go-nmea rejects a bad field: counted as "nmea".
	evs, err := d.Decode(nil, withChecksum("$GPRMC,030719.000,X,3747.0873,S,17518.8938,E,0.69,181.39,311214,,,A*00"), recv0)
	var se *SentenceError
	if !errors.Is(err, ErrNMEA) || !errors.As(err, &se) || se.Formatter != "RMC" || len(evs) != 0 {
		t.Fatalf("err %v", err)
	}
	// Sentences Keelson does not decode are skipped, not errors.
	evs, err = d.Decode(nil, []byte("$GPGSV,3,1,12,01,00,000,,02,00,000,,03,00,000,,04,00,000,*7C"), recv0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("GSV: %v %v", evs, err)
	}
	s := d.Stats()
	if s.Errors != 1 || s.ByError["nmea"] != 1 || s.Skipped != 1 || s.BySkipped["GSV"] != 1 {
		t.Errorf("stats %+v", s)
	}
}

// withChecksum replaces the "*hh" of a sentence with the right one.
func withChecksum(raw string) []byte {
	b := []byte(raw)
	i := strings.IndexByte(raw, '*')
	var cs byte
	for _, c := range b[1:i] {
		cs ^= c
	}
	const hex = "0123456789ABCDEF"
	return append(b[:i+1:i+1], hex[cs>>4], hex[cs&15])
}

// decodeFile decodes a file line by line and returns its events and stats.
func decodeFile(t testing.TB, path string, cfg Config) ([]keelson.Event, Stats) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := NewDecoder(cfg)
	var evs []keelson.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		evs, _ = d.Decode(evs, sc.Bytes(), recv0)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	d.Flush()
	return evs, d.Stats()
}

// TestCountsGNSS checks the message counts of every own-ship capture against
// an independent count (a Python script counting checksum-valid sentences by
// type, in the commit that added this test).
func TestCountsGNSS(t *testing.T) {
	tests := []struct {
		file            string
		lines, messages uint64
		skipped         uint64
		byType          map[string]uint64
	}{
		{"bu353s4.log", 96, 75, 15, map[string]uint64{"GGA": 25, "GSA": 25, "RMC": 25}},
		{"bundg_zeus_9.log", 5007, 3678, 1321, map[string]uint64{"DBT": 148, "DPT": 149, "GGA": 138, "GLL": 147, "GSA": 144,
			"HDG": 1457, "MTW": 149, "MWD": 150, "MWV": 300, "RMC": 146, "VHW": 150, "VLW": 150, "VTG": 148, "XDR": 148, "ZDA": 154}},
		{"hemi.log", 755, 753, 0, map[string]uint64{"GGA": 215, "HDT": 215, "VTG": 215, "ZDA": 108}},
		{"humminbird-M37.log", 109, 98, 0, map[string]uint64{"DPT": 33, "GGA": 8, "GLL": 8, "MTW": 16, "RMC": 17, "VTG": 8, "ZDA": 8}},
	}
	for _, tt := range tests {
		evs, s := decodeFile(t, filepath.Join("..", "testdata", "gnss", tt.file), Config{Vessel: "v"})
		if s.Lines != tt.lines || s.Messages != tt.messages || s.Errors != 0 || s.Skipped != tt.skipped || uint64(len(evs)) != s.Messages {
			t.Errorf("%s: stats %+v, %d events", tt.file, s, len(evs))
		}
		for k, n := range tt.byType {
			if s.ByType[k] != n {
				t.Errorf("%s: %s: %d, want %d", tt.file, k, s.ByType[k], n)
			}
		}
		if len(s.ByType) != len(tt.byType) {
			t.Errorf("%s: by_type %v", tt.file, s.ByType)
		}
		for _, e := range evs {
			if e.Flags&keelson.FlagOwnShip == 0 || e.Vessel != "v" || (e.Position == nil) == (e.Telemetry == nil) {
				t.Fatalf("%s: event %+v", tt.file, e)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{MaxLineLength: -1}, {MaxPending: -1}, {MaxFragments: 10}, {MaxFragments: -1}} {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
		// A bad config still decodes, with the defaults.
		evs, err := NewDecoder(c).Decode(nil, []byte("$SDDPT,5.3,0.4,*79"), recv0)
		if err != nil || len(evs) != 1 {
			t.Errorf("%+v: %v %v", c, evs, err)
		}
	}
	if err := (Config{MaxFragments: 9, MaxAge: -1}).Validate(); err != nil {
		t.Error(err)
	}
}
