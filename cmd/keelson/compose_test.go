//go:build !shipboard

package main

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the checks below read.
type composeFile struct {
	Services map[string]struct {
		Image       string         `yaml:"image"`
		Build       any            `yaml:"build"`
		Command     []string       `yaml:"command"`
		Environment map[string]any `yaml:"environment"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

const keelsonPath = "/usr/local/bin/keelson"

// TestComposeCommandsExist checks that every keelson command, flag and
// KEELSON_* variable that docker-compose.yml uses exists in this binary, as
// listed by `keelson help CMD`.
func TestComposeCommandsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(cf.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	checked := 0
	for name, svc := range cf.Services {
		if !strings.HasPrefix(svc.Image, "keelson") {
			continue
		}
		if svc.Build == nil {
			t.Errorf("service %s: keelson image without build: compose cannot make it", name)
		}
		if len(svc.Command) == 0 {
			t.Errorf("service %s: no command", name)
			continue
		}
		var env []string
		for k := range svc.Environment {
			if strings.HasPrefix(k, "KEELSON_") {
				env = append(env, k)
			}
		}
		checkInvocation(t, "service "+name, svc.Command, env)
		if hc := svc.Healthcheck.Test; len(hc) > 1 && hc[0] == "CMD" && hc[1] == keelsonPath {
			checkInvocation(t, "service "+name+" healthcheck", hc[2:], nil)
		} else if len(hc) > 0 {
			t.Errorf("service %s: health check %q does not use %s (the image has no shell)", name, hc, keelsonPath)
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("only %d keelson services in docker-compose.yml, want collect, sink and serve", checked)
	}
}

// checkInvocation checks that args (a subcommand, maybe a sub-subcommand,
// then flags) and the environment variables are known to the binary.
func checkInvocation(t *testing.T, what string, args []string, env []string) {
	t.Helper()
	cmd := args[0]
	if _, ok := commands()[cmd]; !ok {
		t.Errorf("%s: keelson has no command %q", what, cmd)
		return
	}
	helpArgs := []string{"help", cmd}
	rest := args[1:]
	// A command with actions (keys create|list|revoke) takes the action first.
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		helpArgs = []string{cmd, rest[0], "-help"}
		rest = rest[1:]
	}
	var out bytes.Buffer
	if err := run(context.Background(), helpArgs, nil, &out, &out); err != nil {
		t.Errorf("%s: keelson %s: %v", what, strings.Join(helpArgs, " "), err)
		return
	}
	help := out.String()
	for _, a := range rest {
		if !strings.HasPrefix(a, "-") {
			continue // a flag's value
		}
		flagName, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.Contains(help, "  -"+flagName+"  [") {
			t.Errorf("%s: keelson %s has no flag -%s", what, cmd, flagName)
		}
	}
	for _, e := range env {
		if !strings.Contains(help, "["+e+"]") {
			t.Errorf("%s: keelson %s has no flag for %s", what, cmd, e)
		}
	}
}

// TestComposeConfig validates docker-compose.yml with docker-compose, which
// needs no container engine for `config` (scripts/setup.sh test installs it).
func TestComposeConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs docker-compose; skipped with -short")
	}
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal("docker-compose not found: run scripts/setup.sh test (Debian package docker-compose)")
	}
	cmd := exec.Command(bin, "-f", "docker-compose.yml", "config", "-q")
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, b)
	}
}

// TestBuildWithoutCgo builds the binary as the Dockerfile does
// (CGO_ENABLED=0, -tags nochdb), checks that it is static (no program
// interpreter: it runs on distroless/static) and runs it.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "keelson")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "nochdb", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build -tags nochdb: %v\n%s", err, b)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the image binary is dynamically linked (has a PT_INTERP program header)")
		}
	}
	f.Close()
	if out, err := exec.Command(bin, "migrate", "-clickhouse", "chdb://"+t.TempDir()).CombinedOutput(); err == nil || !strings.Contains(string(out), "without embedded ClickHouse") {
		t.Errorf("keelson migrate on chdb:// in the nochdb build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "demo") {
		t.Fatalf("keelson help: %v\n%s", err, out)
	}
}
