package compiler_test

import (
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// FuzzParse: Parse never panics; what it accepts compiles and renders, the
// same way every time; what it rejects comes with positioned problems.
//
//	go test ./compiler -run='^$' -fuzz=FuzzParse -fuzztime=60s
func FuzzParse(f *testing.F) {
	for _, data := range exampleSpecs(f) {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"x",
		"[door.ssh\nsequence = 1\n",
		"[door]\n",
		"door = 5\n",
		"[[door]]\n",
		"[[door.ssh]]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n",
		"table = 5\n[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n",
		"[door.ssh]\nsequence = [\"7000\", 8000]\nprotect = \"22\"\n",
		"[door.ssh]\nsequence = [\n\"0\", '70000/sctp']\nprotect = []\n",
		"[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\nstep_timeout = \"1.5ms\"\nseq_timeout = \"-1s\"\nopen_for = 5\ntcp_flags = \"!syn\"\n",
		"[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\nallow_from = [\"10.0.0.1/8\", \"fe80::1%eth0\", \"::ffff:1.2.3.4\", \"x\"]\nfamilies = [\"ipv4\", \"ipv4\"]\n",
		"[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\nservice = \"ssh\"\nstart_command = [\"sshd\"]\n",
		"[door.SSH]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"7000\"]\n",
		"[door.a]\nsequence = [\"1\", \"2\"]\nclose_sequence = [\"1\"]\nprotect = [\"3\"]\n[door.b]\nsequence = [\"1\"]\nprotect = [\"3\"]\n",
		"[table]\npriority = \"mangle + 10\"\ninterfaces = [\"eth0\", \"eth0\", \"*\"]\nclosed = \"deny\"\nname = \"1\"\n[door.a]\nsequence = [\"1\"]\nprotect = [\"2\"]\n",
		"door.a = {sequence = ['1', '2/udp', \"3:udp\"], protect = ['4'], allow_from = ['0.0.0.0/0', '::/0'], seq_timeout = '100ms'}\n",
		"[door.\"\"]\nsequence = [\"1\"]\n",
		"[door.a]\nsequence = [\"\\u0037000\"]\nprotect = [\"22\"]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := compiler.Parse("fuzz.toml", data)
		_, err2 := compiler.Parse("fuzz.toml", data)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("Parse(%q) gives different results: %v, then %v", data, err, err2)
		}
		if err != nil {
			if spec != nil {
				t.Errorf("Parse(%q) returned a spec and an error", data)
			}
			errs := compiler.Errors(err)
			if len(errs) == 0 {
				t.Errorf("Parse(%q) = %v, which holds no positioned problem", data, err)
			}
			for _, e := range errs {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Pos.File != "fuzz.toml" {
					t.Errorf("Parse(%q): problem %q at bad position %+v", data, e.Msg, e.Pos)
				}
			}
			return
		}
		if spec == nil {
			t.Fatalf("Parse(%q) = nil, nil; want a spec", data)
		}
		if len(spec.Doors) == 0 && len(compiler.Warnings(spec)) == 0 {
			t.Errorf("Parse(%q) has no doors and no warning saying so", data)
		}
		text := ruleset.Render(compiler.Compile(spec))
		if again := ruleset.Render(compiler.Compile(spec)); again != text {
			t.Errorf("Compile(Parse(%q)) renders differently on a second run", data)
		}
	})
}
