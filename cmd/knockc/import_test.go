package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
)

const knockdTestdata = "../../internal/knockdconf/testdata/"

func TestImport(t *testing.T) {
	clean := filepath.Join(t.TempDir(), "knockd.conf")
	if err := os.WriteFile(clean, []byte(`[openSSH]
	sequence        = 7000,8000,9000
	seq_timeout     = 5
	tcpflags        = syn
	start_command   = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	start_command_6 = /sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	cmd_timeout     = 60
	stop_command    = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	stop_command_6  = /sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
`), 0o644); err != nil {
		t.Fatal(err)
	}
	debian := knockdTestdata + "debian-default.conf"
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantSpec   bool     // stdout loads as a spec; false: stdout is empty
		wantStderr []string // each must appear; none: stderr must be empty
	}{
		{"everything translates", []string{"import", clean}, 0, true, nil},
		{"everything translates, strict", []string{"import", "--strict", clean}, 0, true, nil},
		{"debian's knockd.conf", []string{"import", debian}, 0, true, []string{
			debian + ":2: UseSyslog: ",
			"knockc: translated 2 doors; 1 line of " + debian + " not translated (see above)",
		}},
		{"debian's knockd.conf, strict", []string{"import", "--strict", debian}, 3, true, []string{
			debian + ":2: UseSyslog: ",
			"knockc: import: 1 line of " + debian + " not translated (--strict)",
		}},
		{"seed's knockd.conf", []string{"import", knockdTestdata + "corpus/seed.conf"}, 0, true, []string{"UseSyslog"}},
		{"too large", []string{"import", "/dev/zero"}, 1, false, []string{
			"knockc: import: read knockd configuration /dev/zero: larger than 1048576 bytes: not a knockd configuration knockc reads",
		}},
		{"no door translates", []string{"import", knockdTestdata + "man-example3-one-time-sequences.conf"}, 3, true, []string{
			"one_time_sequences: a door in the kernel cannot rewrite its own sequence",
			"see docs/tokens.md",
			"knockc: import: no door of " + knockdTestdata + "man-example3-one-time-sequences.conf could be translated",
		}},
		{"missing file", []string{"import", "/nonexistent/knockd.conf"}, 1, false, []string{
			"knockc: import: read knockd configuration: open /nonexistent/knockd.conf: no such file or directory",
		}},
		{"no file", []string{"import"}, 1, false, []string{"import takes one knockd configuration"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("knockc %q = %d, want %d; stderr:\n%s", tc.args, code, tc.wantCode, errOut)
			}
			if _, err := compiler.Parse("stdout", []byte(out)); tc.wantSpec && err != nil {
				t.Errorf("knockc %q: stdout does not load as a spec: %v\n%s", tc.args, err, out)
			}
			if !tc.wantSpec && out != "" {
				t.Errorf("knockc %q: stdout = %q, want nothing", tc.args, out)
			}
			if len(tc.wantStderr) == 0 && errOut != "" {
				t.Errorf("knockc %q: stderr = %q, want nothing", tc.args, errOut)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("knockc %q: stderr lacks %q:\n%s", tc.args, want, errOut)
				}
			}
		})
	}
}

func TestImportReadsStdin(t *testing.T) {
	data, err := readInput(strings.NewReader("[x]\n"), "-")
	if err != nil || string(data) != "[x]\n" {
		t.Errorf(`readInput(reader, "-") = %q, %v; want the reader's text`, data, err)
	}
	if _, err := readInput(errReader{}, "-"); err == nil || !strings.Contains(err.Error(), "read stdin") {
		t.Errorf(`readInput(failing reader, "-") = %v, want a read stdin error`, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
