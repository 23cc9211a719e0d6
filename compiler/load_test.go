package compiler_test

import (
	"errors"
	"io/fs"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// base is the smallest valid door; cases append keys from line 4 on.
const base = "[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22\"]\n"

// Message tails shared by many cases.
const (
	allowedDoorKeys = "(allowed: sequence, close_sequence, step_timeout, seq_timeout, tcp_flags, strict, protect, open_for, service, start_command, stop_command, start_timeout, pending, stop_when_idle, on_open, on_close, families, allow_from, flood_rate, max_grants, token, grant_mark)"
	badPort         = "port must be a number from 1 to 65535 (write \"7000/tcp\", \"7000:udp\" or \"7000\")"
	priorityRange   = "(allowed -199 to 1000: knockc's chain must run after conntrack at -200 to let established sessions through)"
)

// errorStrings returns every problem in err as "file:line:col: message".
func errorStrings(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, e := range compiler.Errors(err) {
		out = append(out, e.Error())
	}
	return out
}

// TestParseErrors covers every error path of the loader and the validator:
// each case is a small spec and the full list of problems, with positions,
// that Parse must report.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // nil: the spec is valid
	}{
		// TOML itself. Positions are derived from the decoder's byte offset:
		// its own line and column can disagree with it (a key or header at the
		// start of a line gets a column counted on the line before).
		{name: "toml syntax error", src: "[door.ssh\nsequence = 1\n", want: []string{
			"knock.toml:1:10: invalid TOML: expected '.' or ']' to end table name, but got '\\n' instead",
		}},
		{name: "toml syntax error in array", src: base + "close_sequence = [\"9000\",\n", want: []string{
			"knock.toml:4:26: invalid TOML: unexpected EOF; expected value",
		}},
		{name: "toml duplicate key", src: base + "protect = [\"23\"]\n", want: []string{
			"knock.toml:4:1: invalid TOML: Key 'door.ssh.protect' has already been defined.",
		}},

		// Top level and sections.
		{name: "unknown top-level key with suggestion", src: "[tabel]\nname = \"knockc\"\n" + base, want: []string{
			"knock.toml:1:1: unknown key \"tabel\" in the top level (did you mean \"table\"?)",
		}},
		{name: "unknown top-level key without suggestion", src: "version = 2\n" + base, want: []string{
			"knock.toml:1:1: unknown key \"version\" in the top level (allowed: table, door)",
		}},
		{name: "unknown door key with suggestion", src: base + "sequnce = [\"7000\"]\n", want: []string{
			"knock.toml:4:1: unknown key \"sequnce\" in [door.ssh] (did you mean \"sequence\"?)",
		}},
		{name: "unknown door key with dash", src: base + "open-for = \"1m\"\n", want: []string{
			"knock.toml:4:1: unknown key \"open-for\" in [door.ssh] (did you mean \"open_for\"?)",
		}},
		{name: "unknown door key without suggestion", src: base + "colour = \"red\"\n", want: []string{
			"knock.toml:4:1: unknown key \"colour\" in [door.ssh] " + allowedDoorKeys,
		}},
		{name: "unknown table key with suggestion", src: base + "[table]\nnmae = \"knockc\"\n", want: []string{
			"knock.toml:5:1: unknown key \"nmae\" in [table] (did you mean \"name\"?)",
		}},
		{name: "missing sequence", src: "[door.ssh]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:1:1: door \"ssh\" has no sequence: add e.g. sequence = [\"7000/tcp\", \"8000/tcp\", \"9000/tcp\"]",
		}},
		{name: "missing protect", src: "[door.ssh]\nsequence = [\"7000\"]\n", want: []string{
			"knock.toml:1:1: door \"ssh\" protects nothing: add e.g. protect = [\"22/tcp\"]",
		}},
		{name: "missing sequence and protect", src: "[door.ssh]\nopen_for = \"1m\"\n", want: []string{
			"knock.toml:1:1: door \"ssh\" has no sequence: add e.g. sequence = [\"7000/tcp\", \"8000/tcp\", \"9000/tcp\"]",
			"knock.toml:1:1: door \"ssh\" protects nothing: add e.g. protect = [\"22/tcp\"]",
		}},

		// Sections that are not tables. BurntSushi/toml v1.6.0 decodes any
		// value into a map without an error (leaving it empty), so the loader
		// must check the type itself.
		{name: "table is an integer", src: "table = 5\n" + base, want: []string{
			"knock.toml:1:9: table must be a table ([table]), not an integer",
		}},
		{name: "table is an array of tables", src: "[[table]]\nname = \"knockc\"\n" + base, want: []string{
			"knock.toml:1:1: table must be a table ([table]), not an array of tables",
		}},
		{name: "door is an integer", src: "door = 5\n", want: []string{
			"knock.toml:1:8: door must be a table ([door.NAME] sections), not an integer",
		}},
		{name: "door is an array of tables", src: "[[door]]\nsequence = [\"7000\"]\n", want: []string{
			"knock.toml:1:1: door must be a table ([door.NAME] sections), not an array of tables",
		}},
		{name: "door section is a string", src: "[door]\nssh = \"7000\"\n", want: []string{
			"knock.toml:2:8: door.ssh must be a table ([door.ssh]), not a string",
		}},
		{name: "door section is an array of tables", src: base + "[[door.web]]\nsequence = [\"7100\"]\nprotect = [\"23\"]\n", want: []string{
			"knock.toml:4:1: door.web must be a table ([door.web]), not an array of tables",
		}},
		{name: "sequence is an array of tables", src: "[door.ssh]\nprotect = [\"22\"]\n[[door.ssh.sequence]]\nport = 7000\n", want: []string{
			"knock.toml:3:1: door.ssh.sequence must be an array of strings, not an array of tables",
		}},

		// Wrong types.
		{name: "sequence is a string", src: "[door.ssh]\nsequence = \"7000\"\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:13: door.ssh.sequence must be an array of strings, not a string",
		}},
		{name: "sequence element is an integer", src: "[door.ssh]\nsequence = [\"7000\", 8000]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:13: door.ssh.sequence[1] must be a string",
		}},
		{name: "protect is a table", src: "[door.ssh]\nsequence = [\"7000\"]\nprotect = {port = 22}\n", want: []string{
			"knock.toml:3:12: door.ssh.protect must be an array of strings, not a table",
		}},
		{name: "step_timeout is an integer", src: base + "step_timeout = 5\n", want: []string{
			"knock.toml:4:16: door.ssh.step_timeout must be a string, not an integer",
		}},
		{name: "open_for is a date", src: base + "open_for = 1979-05-27\n", want: []string{
			"knock.toml:4:12: door.ssh.open_for must be a string, not a date or time",
		}},
		{name: "strict is a string", src: base + "strict = \"yes\"\n", want: []string{
			"knock.toml:4:11: door.ssh.strict must be true or false, not a string",
		}},
		{name: "service is an array", src: base + "service = [\"ssh\"]\n", want: []string{
			"knock.toml:4:12: door.ssh.service must be a string, not an array",
		}},
		{name: "flood_rate is a string", src: base + "flood_rate = \"many\"\n", want: []string{
			"knock.toml:4:15: door.ssh.flood_rate must be an integer, not a string",
		}},
		{name: "max_grants is a float", src: base + "max_grants = 1.5\n", want: []string{
			"knock.toml:4:14: door.ssh.max_grants must be an integer, not a float",
		}},
		{name: "table name is an integer", src: base + "[table]\nname = 7\n", want: []string{
			"knock.toml:5:8: table.name must be a string, not an integer",
		}},
		{name: "table priority is a float", src: base + "[table]\npriority = 1.5\n", want: []string{
			"knock.toml:5:12: table.priority must be an integer, not a float",
		}},
		{name: "table log_group is a string", src: base + "[table]\nlog_group = \"4242\"\n", want: []string{
			"knock.toml:5:14: table.log_group must be an integer, not a string",
		}},
		{name: "answer_port is a knock port", src: base + "[table]\nanswer_port = 8000\n", want: []string{
			"knock.toml:5:15: table.answer_port = 8000 is door \"ssh\"'s sequence port 8000/tcp: it must be a port nothing listens on and no door uses (0, the default, is one no program can bind)",
		}},
		{name: "answer_port out of range", src: base + "[table]\nanswer_port = 70000\n", want: []string{
			"knock.toml:5:15: table.answer_port = 70000 is out of range (allowed 0 to 65535)",
		}},
		{name: "answer_port is free", src: base + "[table]\nanswer_port = 1\n"},
		{name: "grant_mark is a string", src: base + "[table]\ngrant_mark = \"0x10\"\n", want: []string{
			"knock.toml:5:15: table.grant_mark must be an integer, not a string",
		}},
		{name: "grant_mark in hex", src: base + "[table]\ngrant_mark = 0x10\n"},
		{name: "door grant_mark out of range", src: base + "grant_mark = -1\n", want: []string{
			"knock.toml:4:14: door.ssh.grant_mark = -1 is out of range (allowed 0 to 4294967295)",
		}},
		{name: "table closed is a boolean", src: base + "[table]\nclosed = true\n", want: []string{
			"knock.toml:5:10: table.closed must be a string, not a boolean",
		}},
		{name: "table interfaces is a string", src: base + "[table]\ninterfaces = \"eth0\"\n", want: []string{
			"knock.toml:5:15: table.interfaces must be an array of strings, not a string",
		}},
		{name: "on_open element is a boolean", src: base + "on_open = [\"/bin/true\", false]\n", want: []string{
			"knock.toml:4:12: door.ssh.on_open[1] must be a string",
		}},

		// Steps: ports and protocols.
		{name: "port 0", src: "[door.ssh]\nsequence = [\"0/tcp\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:14: door.ssh.sequence[0]: \"0/tcp\": " + badPort,
		}},
		{name: "port 70000", src: "[door.ssh]\nsequence = [\"7000\", \"70000/udp\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:22: door.ssh.sequence[1]: \"70000/udp\": " + badPort,
		}},
		{name: "port not a number", src: "[door.ssh]\nsequence = [\"ssh/tcp\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:14: door.ssh.sequence[0]: \"ssh/tcp\": " + badPort,
		}},
		{name: "protocol sctp", src: "[door.ssh]\nsequence = [\"7000/sctp\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:14: door.ssh.sequence[0]: \"7000/sctp\": protocol must be tcp or udp, not \"sctp\"",
		}},
		{name: "protocol missing after slash", src: "[door.ssh]\nsequence = [\"7000/\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:14: door.ssh.sequence[0]: \"7000/\": protocol must be tcp or udp, not \"\"",
		}},
		{name: "protected port 0", src: "[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\", \"0:udp\"]\n", want: []string{
			"knock.toml:3:19: door.ssh.protect[1]: \"0:udp\": " + badPort,
		}},
		{name: "protected port listed twice", src: "[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\", \"22/tcp\"]\n", want: []string{
			"knock.toml:3:19: door.ssh.protect[1]: 22/tcp is listed twice",
		}},
		{name: "protect empty", src: "[door.ssh]\nsequence = [\"7000\"]\nprotect = []\n", want: []string{
			"knock.toml:3:12: door.ssh.protect is empty: name at least one port, e.g. [\"22/tcp\"]",
		}},
		{name: "every bad step reported", src: "[door.ssh]\nsequence = [\"0\", \"7000\", \"8000/icmp\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:14: door.ssh.sequence[0]: \"0\": " + badPort,
			"knock.toml:2:27: door.ssh.sequence[2]: \"8000/icmp\": protocol must be tcp or udp, not \"icmp\"",
		}},

		// Sequences.
		{name: "17 steps", src: "[door.ssh]\nsequence = [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\", \"10\", \"11\", \"12\", \"13\", \"14\", \"15\", \"16\", \"17\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:13: door.ssh.sequence has 17 steps (allowed 1 to 16)",
		}},
		{name: "empty sequence", src: "[door.ssh]\nsequence = []\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:2:13: door.ssh.sequence has 0 steps (allowed 1 to 16)",
		}},
		{name: "empty close_sequence", src: base + "close_sequence = []\n", want: []string{
			"knock.toml:4:19: door.ssh.close_sequence has 0 steps (allowed 1 to 16)",
		}},

		// Durations.
		{name: "duration without unit", src: base + "step_timeout = \"5\"\n", want: []string{
			"knock.toml:4:17: door.ssh.step_timeout: \"5\" is not a duration (write e.g. \"5s\", \"1m30s\")",
		}},
		{name: "negative duration", src: base + "open_for = \"-1s\"\n", want: []string{
			"knock.toml:4:13: door.ssh.open_for: \"-1s\": duration must be positive",
		}},
		{name: "zero duration", src: base + "seq_timeout = \"0s\"\n", want: []string{
			"knock.toml:4:16: door.ssh.seq_timeout: \"0s\": duration must be positive",
		}},
		{name: "sub-millisecond duration", src: base + "step_timeout = \"1.5ms\"\n", want: []string{
			"knock.toml:4:17: door.ssh.step_timeout: \"1.5ms\": the kernel keeps timeouts in clock ticks (4 ms at HZ 250, 10 ms at HZ 100) and would cut it short; write a multiple of 20ms, e.g. \"20ms\"",
		}},
		{name: "duration off the tick grain", src: base + "step_timeout = \"250ms\"\n", want: []string{
			"knock.toml:4:17: door.ssh.step_timeout: \"250ms\": the kernel keeps timeouts in clock ticks (4 ms at HZ 250, 10 ms at HZ 100) and would cut it short; write a multiple of 20ms, e.g. \"240ms\" or \"260ms\"",
		}},
		{name: "duration not a duration", src: base + "start_timeout = \"soon\"\n", want: []string{
			"knock.toml:4:18: door.ssh.start_timeout: \"soon\" is not a duration (write e.g. \"5s\", \"1m30s\")",
		}},
		{name: "duration with days", src: base + "open_for = \"1d\"\n", want: []string{
			"knock.toml:4:13: door.ssh.open_for: \"1d\" is not a duration (write e.g. \"5s\", \"1m30s\")",
		}},
		{name: "step_timeout above range", src: base + "step_timeout = \"2h\"\n", want: []string{
			"knock.toml:4:17: door.ssh.step_timeout = \"2h\" is out of range (allowed 100ms to 1h)",
		}},
		{name: "step_timeout below range", src: base + "step_timeout = \"40ms\"\n", want: []string{
			"knock.toml:4:17: door.ssh.step_timeout = \"40ms\" is out of range (allowed 100ms to 1h)",
		}},
		{name: "seq_timeout above range", src: base + "seq_timeout = \"25h\"\n", want: []string{
			"knock.toml:4:16: door.ssh.seq_timeout = \"25h\" is out of range (allowed 100ms to 24h)",
		}},
		{name: "open_for below range", src: base + "open_for = \"500ms\"\n", want: []string{
			"knock.toml:4:13: door.ssh.open_for = \"500ms\" is out of range (allowed 1s to 168h)",
		}},
		{name: "open_for above range", src: base + "open_for = \"168h1s\"\n", want: []string{
			"knock.toml:4:13: door.ssh.open_for = \"168h1s\" is out of range (allowed 1s to 168h)",
		}},
		{name: "start_timeout above range", src: base + "start_timeout = \"11m\"\n", want: []string{
			"knock.toml:4:18: door.ssh.start_timeout = \"11m\" is out of range (allowed 1s to 10m)",
		}},

		// TCP flags.
		{name: "tcp_flags unknown flag", src: base + "tcp_flags = \"syn,!ack,bogus\"\n", want: []string{
			"knock.toml:4:14: door.ssh.tcp_flags: \"syn,!ack,bogus\": unknown TCP flag \"bogus\" (allowed: fin, syn, rst, psh, ack, urg, ecn, cwr, each optionally preceded by !)",
		}},
		{name: "tcp_flags flag twice", src: base + "tcp_flags = \"syn,!syn\"\n", want: []string{
			"knock.toml:4:14: door.ssh.tcp_flags: \"syn,!syn\": flag \"syn\" named twice",
		}},
		{name: "tcp_flags none set", src: base + "tcp_flags = \"!ack,!rst\"\n", want: []string{
			"knock.toml:4:14: door.ssh.tcp_flags: \"!ack,!rst\": at least one flag must be set (e.g. \"syn,!ack\")",
		}},
		{name: "tcp_flags empty", src: base + "tcp_flags = \"\"\n", want: []string{
			"knock.toml:4:14: door.ssh.tcp_flags: \"\": unknown TCP flag \"\" (allowed: fin, syn, rst, psh, ack, urg, ecn, cwr, each optionally preceded by !)",
		}},

		// Families.
		{name: "families bad name", src: base + "families = [\"ipv4\", \"ipv5\"]\n", want: []string{
			"knock.toml:4:22: door.ssh.families[1] = \"ipv5\": allowed are \"ipv4\" and \"ipv6\"",
		}},
		{name: "families duplicate", src: base + "families = [\"ipv6\", \"ip6\"]\n", want: []string{
			"knock.toml:4:22: door.ssh.families[1]: \"ip6\" is listed twice",
		}},
		{name: "families empty", src: base + "families = []\n", want: []string{
			"knock.toml:4:13: door.ssh.families is empty: allowed are \"ipv4\" and \"ipv6\"",
		}},

		// allow_from.
		{name: "allow_from not an address", src: base + "allow_from = [\"203.0.113.0/24\", \"office\"]\n", want: []string{
			"knock.toml:4:34: door.ssh.allow_from[1]: \"office\" is not an address or CIDR prefix (write e.g. \"203.0.113.0/24\" or \"2001:db8::/32\")",
		}},
		{name: "allow_from host bits set", src: base + "allow_from = [\"203.0.113.7/24\"]\n", want: []string{
			"knock.toml:4:16: door.ssh.allow_from[0]: \"203.0.113.7/24\" has host bits set; did you mean \"203.0.113.0/24\"?",
		}},
		{name: "allow_from host bits set ipv6", src: base + "allow_from = [\"2001:db8::1/32\"]\n", want: []string{
			"knock.toml:4:16: door.ssh.allow_from[0]: \"2001:db8::1/32\" has host bits set; did you mean \"2001:db8::/32\"?",
		}},
		// netip.PrefixFrom drops a zone silently: it must be refused first.
		{name: "allow_from zone", src: base + "allow_from = [\"fe80::1%eth0\"]\n", want: []string{
			"knock.toml:4:16: door.ssh.allow_from[0]: \"fe80::1%eth0\": write IPv4 addresses as a.b.c.d and leave out zones",
		}},
		{name: "allow_from zone in prefix", src: base + "allow_from = [\"fe80::%eth0/64\"]\n", want: []string{
			"knock.toml:4:16: door.ssh.allow_from[0]: \"fe80::%eth0/64\": write IPv4 addresses as a.b.c.d and leave out zones",
		}},
		{name: "allow_from ipv4-mapped", src: base + "allow_from = [\"::ffff:192.0.2.1\"]\n", want: []string{
			"knock.toml:4:16: door.ssh.allow_from[0]: \"::ffff:192.0.2.1\": write IPv4 addresses as a.b.c.d and leave out zones",
		}},
		{name: "allow_from ipv6 but families ipv4", src: base + "families = [\"ipv4\"]\nallow_from = [\"203.0.113.0/24\", \"2001:db8::/32\"]\n", want: []string{
			"knock.toml:5:15: door \"ssh\": allow_from has 2001:db8::/32 but families leaves out ipv6",
		}},
		{name: "families ipv6 without ipv6 allow_from", src: base + "families = [\"ipv4\", \"ipv6\"]\nallow_from = [\"203.0.113.0/24\"]\n", want: []string{
			"knock.toml:5:15: door \"ssh\": families allows ipv6 but allow_from has no ipv6 prefix, so no ipv6 source could knock (add one, or set families without \"ipv6\")",
		}},

		// Services and commands.
		{name: "service and start_command", src: base + "service = \"ssh.service\"\nstart_command = [\"/usr/sbin/sshd\"]\nstop_command = [\"/usr/bin/pkill\", \"sshd\"]\n", want: []string{
			"knock.toml:4:12: door \"ssh\": set either service or start_command/stop_command, not both",
		}},
		{name: "service and stop_command", src: base + "service = \"ssh\"\nstop_command = [\"/usr/bin/pkill\", \"sshd\"]\n", want: []string{
			"knock.toml:4:12: door \"ssh\": set either service or start_command/stop_command, not both",
			"knock.toml:5:17: door \"ssh\": start_command and stop_command go together (the monitor stops what it started)",
		}},
		{name: "start_command without stop_command", src: base + "start_command = [\"/usr/sbin/sshd\"]\n", want: []string{
			"knock.toml:4:18: door \"ssh\": start_command and stop_command go together (the monitor stops what it started)",
		}},
		{name: "stop_command without start_command", src: base + "stop_command = [\"/usr/bin/pkill\", \"sshd\"]\n", want: []string{
			"knock.toml:4:17: door \"ssh\": start_command and stop_command go together (the monitor stops what it started)",
		}},
		{name: "relative argv[0]", src: base + "on_open = [\"logger\", \"opened\"]\n", want: []string{
			"knock.toml:4:12: door.ssh.on_open: program \"logger\" must be an absolute path (commands run without a shell or PATH lookup)",
		}},
		{name: "empty argv", src: base + "on_close = []\n", want: []string{
			"knock.toml:4:13: door.ssh.on_close must name a program: [\"/usr/bin/prog\", \"arg\", ...]",
		}},
		{name: "empty argv[0]", src: base + "start_command = [\"\", \"-D\"]\nstop_command = [\"/bin/false\"]\n", want: []string{
			"knock.toml:4:18: door.ssh.start_command must name a program: [\"/usr/bin/prog\", \"arg\", ...]",
		}},
		{name: "service not a unit name", src: base + "service = \"ssh daemon\"\n", want: []string{
			"knock.toml:4:12: door.ssh.service = \"ssh daemon.service\" is not a systemd service unit name (e.g. \"ssh.service\")",
		}},
		{name: "service of another unit type", src: base + "service = \"ssh.socket\"\n", want: []string{
			"knock.toml:4:12: door.ssh.service = \"ssh.socket\" is not a systemd service unit name (e.g. \"ssh.service\")",
		}},

		// Door names. A second door's header starts its line: its column is 1.
		{name: "door name starts with a digit", src: "[door.1ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:1:1: door name \"1ssh\" is not allowed: it must start with a letter and hold only letters, digits, - and _ (at most 24), as it names nftables objects",
		}},
		{name: "door name with a space", src: "[door.\"my door\"]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:1:1: door name \"my door\" is not allowed: it must start with a letter and hold only letters, digits, - and _ (at most 24), as it names nftables objects",
		}},
		{name: "door name too long", src: "[door.abcdefghijklmnopqrstuvwxy]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n", want: []string{
			"knock.toml:1:1: door name \"abcdefghijklmnopqrstuvwxy\" is not allowed: it must start with a letter and hold only letters, digits, - and _ (at most 24), as it names nftables objects",
		}},
		{name: "door names equal in lower case", src: base + "[door.SSH]\nsequence = [\"7100\"]\nprotect = [\"23\"]\n", want: []string{
			"knock.toml:4:1: door \"SSH\" is defined twice (door names are compared in lower case with - read as _; the other one is at knock.toml:1:1)",
		}},
		{name: "door names equal with dash as underscore", src: "[door.a-b]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n[door.a_b]\nsequence = [\"7100\"]\nprotect = [\"23\"]\n", want: []string{
			"knock.toml:4:1: door \"a_b\" is defined twice (door names are compared in lower case with - read as _; the other one is at knock.toml:1:1)",
		}},

		// Relations inside a door.
		{name: "knock port is the protected port", src: "[door.ssh]\nsequence = [\"7000\", \"22\"]\nprotect = [\"22/tcp\"]\n", want: []string{
			"knock.toml:2:13: door \"ssh\": 22/tcp is both a knock port and a protected port; knock ports must be ports nothing listens on",
		}},
		{name: "close knock port is the protected port", src: base + "close_sequence = [\"22\", \"7000\"]\n", want: []string{
			"knock.toml:4:19: door \"ssh\": 22/tcp is both a knock port and a protected port; knock ports must be ports nothing listens on",
		}},
		{name: "same port other protocol is fine", src: "[door.ssh]\nsequence = [\"7000\", \"22/udp\"]\nprotect = [\"22/tcp\"]\n", want: nil},
		{name: "close_sequence equal to sequence", src: base + "close_sequence = [\"7000/tcp\", \"8000:tcp\"]\n", want: []string{
			"knock.toml:4:19: door \"ssh\": close_sequence [7000/tcp, 8000/tcp] and sequence [7000/tcp, 8000/tcp] must differ, and knocking one may not complete the other on the way",
		}},
		{name: "close_sequence prefix of sequence", src: base + "close_sequence = [\"7000\"]\n", want: []string{
			"knock.toml:4:19: door \"ssh\": close_sequence [7000/tcp] and sequence [7000/tcp, 8000/tcp] must differ, and knocking one may not complete the other on the way",
		}},
		{name: "sequence prefix of close_sequence", src: base + "close_sequence = [\"7000\", \"8000\", \"9000\"]\n", want: []string{
			"knock.toml:4:19: door \"ssh\": close_sequence [7000/tcp, 8000/tcp, 9000/tcp] and sequence [7000/tcp, 8000/tcp] must differ, and knocking one may not complete the other on the way",
		}},

		// Relations between doors.
		{name: "knock port protected by another door", src: base + "[door.web]\nsequence = [\"7100\", \"22\"]\nprotect = [\"443\"]\n", want: []string{
			"knock.toml:5:13: door \"web\": knock port 22/tcp is protected by door \"ssh\"; knock ports must be ports nothing listens on",
		}},
		{name: "close knock port protected by another door", src: base + "close_sequence = [\"443\"]\n[door.web]\nsequence = [\"7100\"]\nprotect = [\"443\"]\n", want: []string{
			"knock.toml:4:19: door \"ssh\": knock port 443/tcp is protected by door \"web\"; knock ports must be ports nothing listens on",
		}},
		{name: "protected port in two doors", src: base + "[door.web]\nsequence = [\"7100\"]\nprotect = [\"443\", \"22/tcp\"]\n", want: []string{
			"knock.toml:6:12: door \"web\": 22/tcp is already protected by door \"ssh\" (knock.toml:3:12); a port may have only one door",
		}},
		{name: "equal sequences in two doors", src: base + "[door.web]\nsequence = [\"7000/tcp\", \"8000\"]\nprotect = [\"443\"]\n", want: []string{
			"knock.toml:5:13: door \"web\": sequence [7000/tcp, 8000/tcp] overlaps door \"ssh\"'s sequence [7000/tcp, 8000/tcp]: knocking one would complete the other on the way",
		}},
		{name: "sequence prefix of another door's", src: base + "[door.web]\nsequence = [\"7000\"]\nprotect = [\"443\"]\n", want: []string{
			"knock.toml:5:13: door \"web\": sequence [7000/tcp] overlaps door \"ssh\"'s sequence [7000/tcp, 8000/tcp]: knocking one would complete the other on the way",
		}},
		{name: "sequence prefix of another door's close_sequence", src: base + "[door.web]\nsequence = [\"7100\"]\nclose_sequence = [\"7000\", \"8000\", \"9000\"]\nprotect = [\"443\"]\n", want: []string{
			"knock.toml:6:19: door \"web\": close_sequence [7000/tcp, 8000/tcp, 9000/tcp] overlaps door \"ssh\"'s sequence [7000/tcp, 8000/tcp]: knocking one would complete the other on the way",
		}},
		{name: "same ports other protocol in two doors", src: base + "[door.web]\nsequence = [\"7000/udp\", \"8000/udp\"]\nprotect = [\"443\"]\n", want: nil},

		// [table].
		{name: "priority -200", src: base + "[table]\npriority = -200\n", want: []string{
			"knock.toml:5:12: table.priority = -200 is out of range " + priorityRange,
		}},
		{name: "priority above 1000", src: base + "[table]\npriority = 1001\n", want: []string{
			"knock.toml:5:12: table.priority = 1001 is out of range " + priorityRange,
		}},
		{name: "priority raw is before conntrack", src: base + "[table]\npriority = \"raw\"\n", want: []string{
			"knock.toml:5:13: table.priority = -300 is out of range " + priorityRange,
		}},
		{name: "priority unknown name", src: base + "[table]\npriority = \"nat\"\n", want: []string{
			"knock.toml:5:13: table.priority = \"nat\": write an integer or a name (raw, mangle, filter, security) with an optional offset such as \"mangle + 10\"",
		}},
		{name: "priority bad offset", src: base + "[table]\npriority = \"mangle + ten\"\n", want: []string{
			"knock.toml:5:13: table.priority = \"mangle + ten\": write an integer or a name (raw, mangle, filter, security) with an optional offset such as \"mangle + 10\"",
		}},
		{name: "priority number as string", src: base + "[table]\npriority = \"-150\"\n", want: []string{
			"knock.toml:5:13: table.priority = \"-150\": write an integer or a name (raw, mangle, filter, security) with an optional offset such as \"mangle + 10\"",
		}},
		{name: "pending neither hold nor drop", src: base + "pending = \"wait\"\n", want: []string{
			"knock.toml:4:12: door.ssh.pending = \"wait\": allowed are \"hold\" (the knocker's first SYN waits until the service is up) and \"drop\" (it is dropped and the client resends it after about 1 s)",
		}},
		{name: "hold_queue out of range", src: base + "[table]\nhold_queue = 70000\n", want: []string{
			"knock.toml:5:14: table.hold_queue = 70000 is out of range (allowed 0 to 65535)",
		}},
		{name: "closed deny", src: base + "[table]\nclosed = \"deny\"\n", want: []string{
			"knock.toml:5:11: table.closed = \"deny\": allowed are \"reject\" (answer like a closed port) and \"drop\" (silence)",
		}},
		{name: "table name starts with a digit", src: base + "[table]\nname = \"1knockc\"\n", want: []string{
			"knock.toml:5:9: table.name \"1knockc\" is not a valid nftables name (a letter, then letters, digits or _; at most 32)",
		}},
		{name: "table name with a dash", src: base + "[table]\nname = \"knock-c\"\n", want: []string{
			"knock.toml:5:9: table.name \"knock-c\" is not a valid nftables name (a letter, then letters, digits or _; at most 32)",
		}},
		{name: "table name too long", src: base + "[table]\nname = \"k23456789012345678901234567890123\"\n", want: []string{
			"knock.toml:5:9: table.name \"k23456789012345678901234567890123\" is not a valid nftables name (a letter, then letters, digits or _; at most 32)",
		}},
		{name: "log_group above 65535", src: base + "[table]\nlog_group = 65536\n", want: []string{
			"knock.toml:5:13: table.log_group = 65536 is out of range (allowed 0 to 65535)",
		}},
		{name: "log_group negative", src: base + "[table]\nlog_group = -1\n", want: []string{
			"knock.toml:5:13: table.log_group = -1 is out of range (allowed 0 to 65535)",
		}},
		{name: "interfaces bad name", src: base + "[table]\ninterfaces = [\"eth0\", \"this-is-too-long0\", \"eth 1\"]\n", want: []string{
			"knock.toml:5:24: table.interfaces[1]: \"this-is-too-long0\" is not an interface name (at most 15 characters; a trailing * matches a prefix)",
			"knock.toml:5:45: table.interfaces[2]: \"eth 1\" is not an interface name (at most 15 characters; a trailing * matches a prefix)",
		}},
		{name: "interfaces star alone", src: base + "[table]\ninterfaces = [\"*\"]\n", want: []string{
			"knock.toml:5:16: table.interfaces[0]: \"*\" is not an interface name (at most 15 characters; a trailing * matches a prefix)",
		}},
		{name: "interfaces duplicate", src: base + "[table]\ninterfaces = [\"eth0\", \"wg*\", \"eth0\"]\n", want: []string{
			"knock.toml:5:31: table.interfaces[2]: \"eth0\" is listed twice",
		}},
		{name: "interfaces empty", src: base + "[table]\ninterfaces = []\n", want: []string{
			"knock.toml:5:15: table.interfaces is empty: leave it out to accept knocks on every interface but lo",
		}},
		{name: "flood_rate 0", src: base + "flood_rate = 0\n", want: []string{
			"knock.toml:4:14: door.ssh.flood_rate = 0 is out of range (allowed 1 to 1000000)",
		}},
		{name: "max_grants above range", src: base + "max_grants = 1000001\n", want: []string{
			"knock.toml:4:14: door.ssh.max_grants = 1000001 is out of range (allowed 1 to 1000000)",
		}},

		// Several problems at once: every one is reported, in file order.
		{name: "all errors reported sorted by position", src: "[door.web]\nsequence = [\"0\"]\nprotect = [\"22\"]\nopen_for = \"forever\"\n[table]\nclosed = \"deny\"\nnmae = \"x\"\n[door.ssh]\nsequence = []\ntcp_flags = \"!syn\"\nbogus = 1\n", want: []string{
			"knock.toml:2:14: door.web.sequence[0]: \"0\": " + badPort,
			"knock.toml:4:13: door.web.open_for: \"forever\" is not a duration (write e.g. \"5s\", \"1m30s\")",
			"knock.toml:6:11: table.closed = \"deny\": allowed are \"reject\" (answer like a closed port) and \"drop\" (silence)",
			"knock.toml:7:1: unknown key \"nmae\" in [table] (did you mean \"name\"?)",
			"knock.toml:8:1: door \"ssh\" protects nothing: add e.g. protect = [\"22/tcp\"]",
			"knock.toml:9:13: door.ssh.sequence has 0 steps (allowed 1 to 16)",
			"knock.toml:10:14: door.ssh.tcp_flags: \"!syn\": at least one flag must be set (e.g. \"syn,!ack\")",
			"knock.toml:11:1: unknown key \"bogus\" in [door.ssh] " + allowedDoorKeys,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := compiler.Parse("knock.toml", []byte(tt.src))
			got := errorStrings(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) errors = %q, want %q; diff (-want +got):\n%s", tt.src, got, tt.want, diff)
			}
			if err != nil {
				if spec != nil {
					t.Errorf("Parse(%q) returned a spec and an error", tt.src)
				}
				if n := len(strings.Split(err.Error(), "\n")); n != len(got) {
					t.Errorf("Parse(%q) error text has %d lines, Errors() has %d entries", tt.src, n, len(got))
				}
				for _, e := range compiler.Errors(err) {
					var target *compiler.Error
					if !errors.As(e, &target) || e.Pos.File != "knock.toml" || e.Pos.Line < 1 || e.Pos.Col < 1 {
						t.Errorf("Parse(%q) error %q: bad position %+v", tt.src, e, e.Pos)
					}
				}
			} else if spec == nil {
				t.Errorf("Parse(%q) = nil, nil", tt.src)
			}
		})
	}
}

// TestParseRejectsSequenceCompletedOnTheWay: knocking one sequence must not
// complete another one of the same or another door on the way. A sequence
// inside another (not only at its start) is completed too: the doors chain
// runs every sequence chain for each packet, so knocking 7000, 8000, 9000
// also completes a strict [8000, 9000], and a non-strict [7000, 9000].
func TestParseRejectsSequenceCompletedOnTheWay(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // position of the error: the later sequence's key
	}{
		{
			// Knocking open also completes close with the same packet: the
			// grant is added by ssh_open and deleted again by ssh_close.
			name: "close_sequence inside sequence",
			src:  "[door.ssh]\nsequence = [\"7000\", \"8000\", \"9000\"]\nclose_sequence = [\"8000\", \"9000\"]\nprotect = [\"22\"]\n",
			want: "knock.toml:3:19",
		},
		{
			name: "sequence inside close_sequence",
			src:  "[door.ssh]\nsequence = [\"8000\", \"9000\"]\nclose_sequence = [\"7000\", \"8000\", \"9000\", \"6000\"]\nprotect = [\"22\"]\n",
			want: "knock.toml:3:19",
		},
		{
			name: "sequence inside another door's",
			src:  "[door.ssh]\nsequence = [\"7000\", \"8000\", \"9000\"]\nprotect = [\"22\"]\n[door.web]\nsequence = [\"8000\", \"9000\"]\nprotect = [\"443\"]\n",
			want: "knock.toml:5:13",
		},
		{
			name: "non-strict sequence spread over another door's",
			src:  "[door.ssh]\nsequence = [\"7000\", \"8000\", \"9000\"]\nprotect = [\"22\"]\n[door.web]\nsequence = [\"7000\", \"9000\"]\nprotect = [\"443\"]\nstrict = false\n",
			want: "knock.toml:5:13",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compiler.Parse("knock.toml", []byte(tt.src))
			got := errorStrings(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want+": ") {
				t.Errorf("Parse(%q) errors = %q, want one error at %s", tt.src, got, tt.want)
			}
		})
	}
}

// TestParseAcceptsSequencesThatCannotCompleteEachOther is the other side of
// the check above: sequences that share ports but cannot complete each
// other stay valid.
func TestParseAcceptsSequencesThatCannotCompleteEachOther(t *testing.T) {
	for name, src := range map[string]string{
		"close is open reversed":          "[door.ssh]\nsequence = [\"7000\", \"8000\", \"9000\"]\nclose_sequence = [\"9000\", \"8000\", \"7000\"]\nprotect = [\"22\"]\n",
		"strict door spread over another": "[door.ssh]\nsequence = [\"7000\", \"8000\", \"9000\"]\nprotect = [\"22\"]\n[door.web]\nsequence = [\"7000\", \"9000\"]\nprotect = [\"443\"]\n",
		"shared middle step":              "[door.ssh]\nsequence = [\"7000\", \"8000\", \"9000\"]\nprotect = [\"22\"]\n[door.web]\nsequence = [\"6000\", \"8000\", \"9500\"]\nprotect = [\"443\"]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := compiler.Parse("knock.toml", []byte(src)); err != nil {
				t.Errorf("Parse(%q) = %v, want no error", src, err)
			}
		})
	}
}

// cmpSpec compares specs field by field; netip values compare with ==.
var cmpSpec = []cmp.Option{
	cmpopts.IgnoreUnexported(compiler.Door{}, compiler.TableSpec{}),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

// TestParseDefaults checks what a door and the table get when the spec
// leaves everything optional out.
func TestParseDefaults(t *testing.T) {
	spec, err := compiler.Parse("knock.toml", []byte(base))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", base, err)
	}
	want := &compiler.Spec{
		File: "knock.toml",
		Table: compiler.TableSpec{
			Name: "knockc", Priority: -150, LogGroup: 4242, HoldQueue: 4242, Closed: "reject",
		},
		Doors: []*compiler.Door{{
			Name:         "ssh",
			Pos:          compiler.Pos{File: "knock.toml", Line: 1, Col: 1},
			Sequence:     []compiler.Step{{Port: 7000, Proto: ruleset.TCP}, {Port: 8000, Proto: ruleset.TCP}},
			StepTimeout:  5 * time.Second,
			TCPFlags:     compiler.TCPFlags{Flags: 0x02, Mask: 0x12},
			Strict:       true,
			Protect:      []compiler.Step{{Port: 22, Proto: ruleset.TCP}},
			OpenFor:      30 * time.Second,
			StartTimeout: 30 * time.Second,
			Hold:         true,
			StopWhenIdle: true,
			Families:     []ruleset.Family{ruleset.IPv4, ruleset.IPv6},
			FloodRate:    25000,
			MaxGrants:    1024,
		}},
	}
	if diff := cmp.Diff(want, spec, cmpSpec...); diff != "" {
		t.Errorf("Parse(%q) mismatch (-want +got):\n%s", base, diff)
	}
	d := spec.Doors[0]
	for _, tc := range []struct {
		src       string
		hold      bool
		holdQueue uint16
	}{
		{base + "pending = \"drop\"\n", false, 4242},
		{base + "pending = \"hold\"\n[table]\nlog_group = 7\n", true, 7},
		{base + "[table]\nlog_group = 7\nhold_queue = 9\n", true, 9},
	} {
		s, err := compiler.Parse("knock.toml", []byte(tc.src))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", tc.src, err)
		}
		if s.Doors[0].Hold != tc.hold || s.Table.HoldQueue != tc.holdQueue || !s.Doors[0].StopWhenIdle {
			t.Errorf("Parse(%q): hold %v queue %d, want %v %d", tc.src, s.Doors[0].Hold, s.Table.HoldQueue, tc.hold, tc.holdQueue)
		}
	}
	if s, err := compiler.Parse("knock.toml", []byte(base+"stop_when_idle = false\n")); err != nil || s.Doors[0].StopWhenIdle {
		t.Errorf("stop_when_idle = false: %v, StopWhenIdle = %v, want false", err, err == nil && s.Doors[0].StopWhenIdle)
	}
	if got := d.TCPFlags.String(); got != "syn,!ack" {
		t.Errorf("default tcp_flags = %q, want %q", got, "syn,!ack")
	}
	if d.Managed() {
		t.Errorf("door without service: Managed() = true, want false")
	}
	if d.StepTimeout != compiler.DefaultStepTimeout || d.OpenFor != compiler.DefaultOpenFor || d.TCPFlags != compiler.DefaultTCPFlags {
		t.Errorf("defaults differ from the exported Default* values: %+v", d)
	}
}

// TestParseAccepts checks how valid values are read.
func TestParseAccepts(t *testing.T) {
	tcp := func(p uint16) compiler.Step { return compiler.Step{Port: p, Proto: ruleset.TCP} }
	udp := func(p uint16) compiler.Step { return compiler.Step{Port: p, Proto: ruleset.UDP} }
	both := []ruleset.Family{ruleset.IPv4, ruleset.IPv6}
	tests := []struct {
		name  string
		src   string
		check func(*compiler.Spec) (got, want any)
	}{
		{"knockd step spelling", "[door.ssh]\nsequence = [\"7000:udp\", \"8000/TCP\", \"9000\", \" 9100/udp \"]\nprotect = [\"22\", \"53:udp\"]\n",
			func(s *compiler.Spec) (any, any) {
				return [][]compiler.Step{s.Doors[0].Sequence, s.Doors[0].Protect}, [][]compiler.Step{{udp(7000), tcp(8000), tcp(9000), udp(9100)}, {tcp(22), udp(53)}}
			}},
		{"single-quoted strings", "[door.ssh]\nsequence = ['7000', '8000']\nprotect = ['22']\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Sequence, []compiler.Step{tcp(7000), tcp(8000)} }},
		{"16 steps", "[door.ssh]\nsequence = [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\", \"10\", \"11\", \"12\", \"13\", \"14\", \"15\", \"16\"]\nprotect = [\"22\"]\n",
			func(s *compiler.Spec) (any, any) { return len(s.Doors[0].Sequence), 16 }},
		{"one step", "[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Sequence, []compiler.Step{tcp(7000)} }},
		{"priority named with offset", base + "[table]\npriority = \"mangle + 10\"\n",
			func(s *compiler.Spec) (any, any) { return s.Table.Priority, -140 }},
		{"priority named minus offset", base + "[table]\npriority = \"filter-5\"\n",
			func(s *compiler.Spec) (any, any) { return s.Table.Priority, -5 }},
		{"priority named", base + "[table]\npriority = \"security\"\n",
			func(s *compiler.Spec) (any, any) { return s.Table.Priority, 50 }},
		{"priority lowest", base + "[table]\npriority = -199\n",
			func(s *compiler.Spec) (any, any) { return s.Table.Priority, -199 }},
		{"priority highest", base + "[table]\npriority = 1000\n",
			func(s *compiler.Spec) (any, any) { return s.Table.Priority, 1000 }},
		{"table keys", base + "[table]\nname = \"Knock_2\"\nlog_group = 0\nclosed = \"drop\"\ninterfaces = [\"eth0\", \"wg*\", \"br-lan.10\"]\n",
			func(s *compiler.Spec) (any, any) {
				return s.Table, compiler.TableSpec{Name: "Knock_2", Priority: -150, LogGroup: 0, Closed: "drop", Interfaces: []string{"eth0", "wg*", "br-lan.10"}}
			}},
		{"table after doors", base + "[table]\nname = \"k\"\n",
			func(s *compiler.Spec) (any, any) { return s.Table.Name, "k" }},
		{"families from ipv4 allow_from", base + "allow_from = [\"203.0.113.0/24\", \"198.51.100.7\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Families, []ruleset.Family{ruleset.IPv4} }},
		{"families from ipv6 allow_from", base + "allow_from = [\"2001:db8::/32\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Families, []ruleset.Family{ruleset.IPv6} }},
		{"families from mixed allow_from", base + "allow_from = [\"2001:db8::/32\", \"203.0.113.0/24\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Families, both }},
		{"families set and matching allow_from", base + "families = [\"ipv4\"]\nallow_from = [\"203.0.113.0/24\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Families, []ruleset.Family{ruleset.IPv4} }},
		{"families aliases sorted", base + "families = [\"ip6\", \"INET4\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Families, both }},
		{"families ipv6 only", base + "families = [\"ipv6\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Families, []ruleset.Family{ruleset.IPv6} }},
		{"allow_from bare address", base + "allow_from = [\"198.51.100.7\", \"2001:db8::1\"]\n",
			func(s *compiler.Spec) (any, any) {
				return s.Doors[0].AllowFrom, []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::1/128")}
			}},
		{"service gets .service", base + "service = \"ssh\"\n",
			func(s *compiler.Spec) (any, any) {
				return [2]any{s.Doors[0].Service, s.Doors[0].Managed()}, [2]any{"ssh.service", true}
			}},
		{"service template instance", base + "service = \"getty@tty1.service\"\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Service, "getty@tty1.service" }},
		{"commands and hooks", base + "start_command = [\"/usr/sbin/sshd\", \"-D\"]\nstop_command = [\"/usr/bin/pkill\", \"sshd\"]\non_open = [\"/usr/bin/logger\", \"open\"]\non_close = [\"/usr/bin/logger\", \"close\"]\nstart_timeout = \"1m\"\n",
			func(s *compiler.Spec) (any, any) {
				d := s.Doors[0]
				return []any{d.StartCommand, d.StopCommand, d.OnOpen, d.OnClose, d.StartTimeout, d.Managed()},
					[]any{[]string{"/usr/sbin/sshd", "-D"}, []string{"/usr/bin/pkill", "sshd"}, []string{"/usr/bin/logger", "open"}, []string{"/usr/bin/logger", "close"}, time.Minute, true}
			}},
		{"hooks alone do not manage a service", base + "on_open = [\"/usr/bin/logger\", \"open\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Managed(), false }},
		{"durations", base + "step_timeout = \"1m30s\"\nseq_timeout = \"1500ms\"\nopen_for = \"168h\"\n",
			func(s *compiler.Spec) (any, any) {
				d := s.Doors[0]
				return []time.Duration{d.StepTimeout, d.SeqTimeout, d.OpenFor}, []time.Duration{90 * time.Second, 1500 * time.Millisecond, 168 * time.Hour}
			}},
		{"duration range limits", base + "step_timeout = \"100ms\"\nseq_timeout = \"24h\"\nopen_for = \"1s\"\nstart_timeout = \"10m\"\n",
			func(s *compiler.Spec) (any, any) {
				d := s.Doors[0]
				return []time.Duration{d.StepTimeout, d.SeqTimeout, d.OpenFor, d.StartTimeout}, []time.Duration{100 * time.Millisecond, 24 * time.Hour, time.Second, 10 * time.Minute}
			}},
		{"tcp_flags syn only", base + "tcp_flags = \"syn\"\n",
			func(s *compiler.Spec) (any, any) {
				return s.Doors[0].TCPFlags, compiler.TCPFlags{Flags: 0x02, Mask: 0x02}
			}},
		{"tcp_flags case and spaces", base + "tcp_flags = \"SYN, !ACK, !rst\"\n",
			func(s *compiler.Spec) (any, any) {
				return [2]any{s.Doors[0].TCPFlags, s.Doors[0].TCPFlags.String()}, [2]any{compiler.TCPFlags{Flags: 0x02, Mask: 0x16}, "syn,!rst,!ack"}
			}},
		{"strict false", base + "strict = false\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Strict, false }},
		{"flood_rate and max_grants", base + "flood_rate = 100\nmax_grants = 8\n",
			func(s *compiler.Spec) (any, any) {
				return [2]int{s.Doors[0].FloodRate, s.Doors[0].MaxGrants}, [2]int{100, 8}
			}},
		{"door names normalised and sorted", "[door.Web-Admin]\nsequence = [\"7100\"]\nprotect = [\"443\"]\n" + base,
			func(s *compiler.Spec) (any, any) {
				return []string{s.Doors[0].Name, s.Doors[1].Name}, []string{"ssh", "web_admin"}
			}},
		{"door as inline table", "door.ssh = {sequence = [\"7000\"], protect = [\"22\"]}\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Protect, []compiler.Step{tcp(22)} }},
		{"door with dotted keys", "[door]\nssh.sequence = [\"7000\"]\nssh.protect = [\"22\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Sequence, []compiler.Step{tcp(7000)} }},
		{"door header position", "# comment\n\n[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\n",
			func(s *compiler.Spec) (any, any) { return s.Doors[0].Pos.String(), "knock.toml:3:1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := compiler.Parse("knock.toml", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tt.src, err)
			}
			got, want := tt.check(spec)
			if diff := cmp.Diff(want, got, cmpSpec...); diff != "" {
				t.Errorf("Parse(%q) = %v, want %v; diff (-want +got):\n%s", tt.src, got, want, diff)
			}
		})
	}
}

// TestLoad reads a spec from disk; a missing file is not a spec problem.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := compiler.Load(filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if got := compiler.Errors(err); len(got) != 0 {
		t.Errorf("Errors(Load(missing)) = %v, want none", got)
	}
}

// TestErrors checks that Errors unpacks what Parse returns, and nothing else.
func TestErrors(t *testing.T) {
	if got := compiler.Errors(nil); got != nil {
		t.Errorf("Errors(nil) = %v, want nil", got)
	}
	if got := compiler.Errors(errors.New("other")); got != nil {
		t.Errorf("Errors(other) = %v, want nil", got)
	}
	one := &compiler.Error{Pos: compiler.Pos{File: "f", Line: 2, Col: 3}, Msg: "bad"}
	if got := compiler.Errors(one); len(got) != 1 || got[0] != one {
		t.Errorf("Errors(one) = %v, want [%v]", got, one)
	}
	wrapped := errors.Join(errors.New("other"), one)
	if got := compiler.Errors(wrapped); len(got) != 1 || got[0] != one {
		t.Errorf("Errors(%v) = %v, want [%v]", wrapped, got, one)
	}
	if got, want := one.Error(), "f:2:3: bad"; got != want {
		t.Errorf("Error.Error() = %q, want %q", got, want)
	}
}
