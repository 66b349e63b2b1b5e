package bus_test

import (
	"flag"
	"fmt"

	"github.com/keelson/keelson/bus"
)

func ExampleConfig_RegisterFlags() {
	var cfg bus.Config
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	_ = fs.Parse([]string{"-brokers", "kafka-1:9093,kafka-2:9093", "-kafka-sasl", "scram-sha-512", "-kafka-user", "ship-1"})
	cfg.Password = "from -kafka-password-file or $KEELSON_KAFKA_PASSWORD"
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
	}
	fmt.Println(cfg.String())
	// Output:
	// brokers=kafka-1:9093,kafka-2:9093 sasl=scram-sha-512 user=ship-1 password=[redacted]
}
