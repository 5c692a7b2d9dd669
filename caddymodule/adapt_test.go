package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/adapt from the current output")

const separator = "\n----------\n"

// TestAdapt runs each testdata/adapt/*.caddyfiletest: a Caddyfile, a
// separator line, then either the JSON it adapts to or, for a file whose
// name starts with "error_", the error message it must produce.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), separator)
			if !ok {
				t.Fatalf("%s: no separator line", file)
			}
			out, _, err := adapter.Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
			var got string
			if strings.HasPrefix(filepath.Base(file), "error_") {
				if err == nil {
					t.Fatalf("adapted without error, want %q", strings.TrimSpace(want))
				}
				got = err.Error()
			} else {
				if err != nil {
					t.Fatalf("adapt: %v", err)
				}
				var buf bytes.Buffer
				if err := json.Indent(&buf, out, "", "\t"); err != nil {
					t.Fatal(err)
				}
				got = buf.String()
			}
			if *update {
				if err := os.WriteFile(file, []byte(input+separator+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
