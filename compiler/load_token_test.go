package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/token"
)

const tokenBase = "[door.ssh]\nprotect = [\"22\"]\n[door.ssh.token]\nport = 62201\nkeys = { alice = \"alice.key\" }\n"

func TestParseTokenDoor(t *testing.T) {
	spec, err := compiler.Parse("/etc/knockc/knock.toml", []byte(tokenBase+"slot = \"10s\"\nper_slot = 4\n"))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	tok := spec.Doors[0].Token
	want := compiler.TokenDoor{Port: 62201, Slot: 10 * time.Second, PerSlot: 4, Lifetime: 5 * time.Minute, Skew: 5 * time.Minute, Ahead: time.Hour}
	if tok == nil || tok.Port != want.Port || tok.Slot != want.Slot || tok.PerSlot != want.PerSlot || tok.Lifetime != want.Lifetime || tok.Skew != want.Skew || tok.Ahead != want.Ahead {
		t.Fatalf("Parse token = %+v, want %+v", tok, want)
	}
	if len(tok.Keys) != 1 || tok.Keys[0].Name != "alice" || tok.Keys[0].Path != "/etc/knockc/alice.key" {
		t.Errorf("Parse keys = %+v, want alice at /etc/knockc/alice.key (relative to the spec)", tok.Keys)
	}
}

func TestParseTokenErrors(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"no port", "[door.ssh]\nprotect = [\"22\"]\n[door.ssh.token]\nkeys = { a = \"a\" }\n", []string{
			"knock.toml:3:1: door.ssh.token has no port: add e.g. port = 62201 (the UDP port tokens are sent to; nothing may listen on it)",
		}},
		{"no keys", "[door.ssh]\nprotect = [\"22\"]\n[door.ssh.token]\nport = 9\n", []string{
			"knock.toml:3:1: door.ssh.token has no keys: add e.g. keys = { alice = \"/etc/knockc/ssh-alice.key\" } and run knockc keygen",
		}},
		{"bad values", tokenBase + "slot = \"0.5s\"\nper_slot = 0\nbogus = 1\n", []string{
			"knock.toml:6:9: door.ssh.token.slot = \"0.5s\" is out of range (allowed 1s to 1h)",
			"knock.toml:7:12: door.ssh.token.per_slot = 0 is out of range (allowed 1 to 256)",
			"knock.toml:8:1: unknown key \"bogus\" in [door.ssh.token] (allowed: port, keys, slot, per_slot, lifetime, skew, ahead)",
		}},
		{"bad key name", "[door.ssh]\nprotect = [\"22\"]\n[door.ssh.token]\nport = 1\nkeys = { Alice = \"a.key\", bob = 3 }\n", []string{
			"knock.toml:5:10: key name \"Alice\" is not allowed: lower-case letters, digits and _, starting with a letter, at most 24 (it names a set in the kernel)",
			"knock.toml:5:27: door.ssh.token.keys.bob must be a string, not an integer",
		}},
		{"lifetime below skew", tokenBase + "lifetime = \"1m\"\n", []string{
			"knock.toml:6:13: door.ssh.token: lifetime 1m is shorter than skew 5m: a client whose clock is that slow would send tokens already gone",
		}},
		{"ahead too short", tokenBase + "ahead = \"5m\"\n", []string{
			"knock.toml:6:10: door.ssh.token: ahead 5m is too short: a client whose clock is skew fast and that starts afresh (a lead of 1m) needs tokens 8m ahead",
		}},
		// A week ahead at the default slot and per_slot: 161,393 tokens,
		// whose set takes some 30 s to read back (docs/tokens.md).
		{"too many tokens a key", tokenBase + "ahead = \"168h\"\n", []string{
			"knock.toml:6:10: door.ssh.token: 161393 tokens a key would be installed at once (at most 32768, as apply, plan and the monitor read each key's set whole): make slot longer, per_slot smaller or ahead shorter",
		}},
		{"sequence and close with token", "[door.ssh]\nsequence = [\"7000\"]\nclose_sequence = [\"8000\"]\nprotect = [\"22\"]\n[door.ssh.token]\nport = 62201\nkeys = { a = \"a\" }\n", []string{
			"knock.toml:2:13: door \"ssh\": opens by token, so it takes no sequence (a sequence can be replayed by anyone who saw it; make a second door for it)",
			"knock.toml:3:19: door \"ssh\": a token door takes no close_sequence: anyone who saw it could close the door for everyone; grants end after open_for",
		}},
		{"token port used elsewhere", tokenBase + "[door.dns]\nsequence = [\"62201/udp\"]\nprotect = [\"53/udp\"]\n", []string{
			"knock.toml:3:1: door \"ssh\": token port 62201/udp is used by door \"dns\" as 62201/udp",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compiler.Parse("knock.toml", []byte(tt.src))
			got := errorStrings(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) errors = %q; diff (-want +got):\n%s", tt.src, got, diff)
			}
		})
	}
}

func TestTokenKeys(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "knock.toml")
	src := tokenBase + "[door.ssh.token.keys]\n"
	src = strings.Replace(tokenBase, "keys = { alice = \"alice.key\" }\n", "keys = { alice = \"alice.key\", bob = \"bob.key\", carol = \"carol.key\", dave = \"missing.key\" }\n", 1)
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	secret, _ := token.NewSecret()
	key := func(name string, port uint16) *token.Key {
		return &token.Key{Door: "ssh", Name: name, Secret: secret, Port: port, Slot: 30 * time.Second, PerSlot: 8, Skew: 5 * time.Minute}
	}
	for _, k := range []*token.Key{key("alice", 62201), key("bob", 1), key("carol", 62201)} {
		if err := token.WriteKey(filepath.Join(dir, k.Name+".key"), k); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "carol.key"), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := compiler.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = compiler.TokenKeys(s)
	got := errorStrings(t, err)
	want := []string{
		spec + ":5:31: door \"ssh\" key \"bob\": " + filepath.Join(dir, "bob.key") + " holds port 1, not 62201; make a new one with knockc keygen",
		spec + ":5:48: door \"ssh\" key \"carol\": key \"" + filepath.Join(dir, "carol.key") + "\" has mode 0640, so others may read it; run chmod 600 \"" + filepath.Join(dir, "carol.key") + "\": key file is readable by others",
		spec + ":5:69: door \"ssh\" key \"dave\": read key: open " + filepath.Join(dir, "missing.key") + ": no such file or directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TokenKeys errors (-want +got):\n%s", diff)
	}
}

// Door and key names join with _, so two doors can name one set; check
// must say so, not the kernel at apply ("file exists").
func TestParseNameClash(t *testing.T) {
	src := "[door.x]\nprotect = [\"22/tcp\"]\ntoken.port = 62201\ntoken.keys.grant_v4 = \"a.key\"\n\n" +
		"[door.x_tok]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"23/tcp\"]\n"
	_, err := compiler.Parse("knock.toml", []byte(src))
	want := `knock.toml:6:1: door "x_tok": its set x_tok_grant_v4 has the name of door "x"'s (names join the door's and a key's with _); rename one of the doors or the key`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(door x key grant_v4, door x_tok) = %v, want %s", err, want)
	}
}
