package ais

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// captureDir holds the project's real AIS captures (see testdata/README.md).
const captureDir = "../../testdata/ais"

// sample is one complete AIS message from a capture: the payloads of its
// sentences joined in order and the fill bits of the last one.
type sample struct {
	File    string `json:"-"`
	Line    int    `json:"line"` // line of the last sentence, 1-based
	Payload string `json:"payload"`
	Fill    int    `json:"fill"`
	bits    []byte // synthetic samples only: one bit per byte
}

// captureFiles lists the capture files.
func captureFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(captureDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", captureDir, err)
	}
	return files
}

// loadSamples extracts the AIS messages of a capture with a minimal,
// test-only framing: it finds "!xxVDM"/"!xxVDO" sentences anywhere in a
// line, checks their checksum and joins the fragments of a multi-sentence
// message (keyed by channel and sequence id, in order). The real framing
// lives in package decode.
func loadSamples(t testing.TB, file string) []sample {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type key struct{ seq, ch string }
	parts := map[key][]byte{}
	next := map[key]int{}
	var out []sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Bytes()
		i := bytes.IndexByte(line, '!')
		if i < 0 || len(line) < i+7 || string(line[i+3:i+5]) != "VD" {
			continue
		}
		s := line[i:]
		star := bytes.IndexByte(s, '*')
		if star < 0 || len(s) < star+3 {
			continue
		}
		var cs byte
		for _, c := range s[1:star] {
			cs ^= c
		}
		want, err := strconv.ParseUint(string(s[star+1:star+3]), 16, 8)
		if err != nil || byte(want) != cs {
			continue
		}
		fs := bytes.Split(s[:star], []byte{','})
		if len(fs) != 7 {
			continue
		}
		total, err1 := strconv.Atoi(string(fs[1]))
		num, err2 := strconv.Atoi(string(fs[2]))
		fill, err3 := strconv.Atoi(string(fs[6]))
		if err1 != nil || err2 != nil || err3 != nil || num < 1 || num > total {
			continue
		}
		k := key{string(fs[3]), string(fs[4])}
		if total == 1 {
			out = append(out, sample{File: file, Line: ln, Payload: string(fs[5]), Fill: fill})
			continue
		}
		if num == 1 {
			parts[k] = append(parts[k][:0], fs[5]...)
			next[k] = 2
			continue
		}
		if next[k] != num {
			delete(parts, k)
			delete(next, k)
			continue
		}
		parts[k] = append(parts[k], fs[5]...)
		next[k] = num + 1
		if num == total {
			out = append(out, sample{File: file, Line: ln, Payload: string(parts[k]), Fill: fill})
			delete(parts, k)
			delete(next, k)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// allSamples returns the messages of every capture.
func allSamples(t testing.TB) []sample {
	var all []sample
	for _, f := range captureFiles(t) {
		all = append(all, loadSamples(t, f)...)
	}
	return all
}
