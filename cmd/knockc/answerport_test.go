//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
)

// TestWatchAnswerPort: the monitor's check logs an error while something
// listens on the answer port, and stays quiet for the default port 0.
func TestWatchAnswerPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		answer string
		want   bool
	}{{fmt.Sprint(port), true}, {"0", false}} {
		spec, err := compiler.Parse("k.toml", []byte("[table]\nanswer_port = "+tc.answer+"\n[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		watchAnswerPort(ctx, compiler.Compile(spec), slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Millisecond)
		cancel()
		if got := strings.Contains(buf.String(), "something listens on table.answer_port"); got != tc.want {
			t.Errorf("answer_port = %s: logged an error = %v, want %v; log:\n%s", tc.answer, got, tc.want, buf.String())
		}
	}
}
