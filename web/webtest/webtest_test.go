package webtest

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestJSString(t *testing.T) {
	for _, s := range []string{"219384000", `a"b\c`, "x\ny", "</script>"} {
		var back string
		if err := json.Unmarshal([]byte(jsString(s)), &back); err != nil {
			t.Errorf("jsString(%q) = %s: not a JS string literal: %v", s, jsString(s), err)
		}
	}
}

func TestFindChromiumEnv(t *testing.T) {
	t.Setenv("KEELSON_CHROMIUM", "/opt/chromium/chrome")
	if p, err := FindChromium(); err != nil || p != "/opt/chromium/chrome" {
		t.Errorf("FindChromium with KEELSON_CHROMIUM: %q, %v", p, err)
	}
	t.Setenv("KEELSON_CHROMIUM", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := FindChromium(); !errors.Is(err, ErrNoChromium) {
		t.Errorf("FindChromium with an empty PATH: %v, want ErrNoChromium", err)
	}
}
