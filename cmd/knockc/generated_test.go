//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/knockc/knockc/internal/testenv"
)

// generated maps each file (their text is Linux's: all commands) under dist/ made from the CLI definition to the
// function that makes it. `go generate ./cmd/knockc` rewrites them.
var generated = map[string]func(*cli.App) (string, error){
	"../../dist/knockc.1":               manPage,
	"../../dist/knockc.bash-completion": bashCompletion,
}

// TestGeneratedFiles fails when a committed file under dist/ is not what
// the CLI definition makes today.
func TestGeneratedFiles(t *testing.T) {
	app := newApp(nil, io.Discard, io.Discard)
	for path, gen := range generated {
		want, err := gen(app)
		if err != nil {
			t.Fatalf("generate %s: %v", path, err)
		}
		if testenv.Updating() { // rewrite dist/ (man page, completion)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go generate ./cmd/knockc)", err)
		}
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("%s is not current: run go generate ./cmd/knockc", filepath.Base(path))
		}
	}
}

// manPage is knockc(1) from the CLI definition, with the sections the
// definition does not hold.
func manPage(app *cli.App) (string, error) {
	app.UsageText = "knockc COMMAND [FLAGS] [ARGUMENTS...]"
	man, err := app.ToManWithSection(1)
	if err != nil {
		return "", err
	}
	return man + `
.SH FILES
.TP
\fI/etc/knockc/knock.toml\fP
the knock spec the packaged units use
.TP
\fI/lib/systemd/system/knockc-monitor.service\fP
runs \fBknockc monitor --apply\fP: applies the spec at boot and runs the monitor
.TP
\fI/lib/systemd/system/knockc-apply.timer\fP
runs \fBknockc apply\fP every 15 minutes (tops up token doors without a monitor)
.TP
\fI/usr/share/doc/knockc/examples/\fP
commented specs and the monitor's polkit rule (\fBknockc render --polkit\fP writes one for a spec)

.SH SEE ALSO
\fBnft\fP(8), \fBjournalctl\fP(1), \fBsystemctl\fP(1); knockc's README.md and docs/operations.md
`, nil
}

// argKinds says what each command's arguments are, for completion.
var argKinds = map[string]string{
	"check": "spec", "render": "spec", "plan": "spec", "apply": "spec",
	"status": "spec", "watch": "spec", "down": "spec", "monitor": "spec",
	"import": "file", "knock": "host", "trace": "host", "demo": "none",
}

// flagValues are the completions of flags that take one of a few words.
var flagValues = map[string]string{
	"log-format": "auto text json journal",
	"log-level":  "debug info warn error",
}

// bashCompletion is a bash completion script from the CLI definition. It
// never runs knockc: every word it offers is written into it.
func bashCompletion(app *cli.App) (string, error) {
	var b strings.Builder
	var cmds []string
	for _, c := range app.Commands {
		cmds = append(cmds, c.Name)
	}
	b.WriteString(`# bash completion for knockc (zsh: autoload bashcompinit; bashcompinit; source this).
# Generated from knockc's command definitions by go generate ./cmd/knockc; do
# not edit. It never runs knockc: completing a word must not run a command.

_knockc() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd= i flags= valued= args=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	COMPREPLY=()
	case $cmd in
	"")
		COMPREPLY=($(compgen -W "` + strings.Join(cmds, " ") + ` help --help --version" -- "$cur"))
		return 0 ;;
	help)
		COMPREPLY=($(compgen -W "` + strings.Join(cmds, " ") + `" -- "$cur"))
		return 0 ;;
`)
	for _, c := range app.Commands {
		var flags, valued []string
		for _, f := range c.Flags {
			tv, ok := f.(interface{ TakesValue() bool })
			for _, n := range f.Names() {
				dash := "--"
				if len(n) == 1 {
					dash = "-"
				}
				flags = append(flags, dash+n)
				if ok && tv.TakesValue() {
					valued = append(valued, dash+n)
				}
			}
		}
		flags = append(flags, "--help")
		sort.Strings(flags)
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=%q valued=%q args=%s ;;\n", c.Name, strings.Join(flags, " "), " "+strings.Join(valued, " ")+" ", argKinds[c.Name])
	}
	b.WriteString(`	*) return 0 ;;
	esac
	# The value of a flag.
	if [[ $valued == *" $prev "* ]]; then
		case $prev in
		--netns) COMPREPLY=($(compgen -W "$(ls /run/netns 2>/dev/null)" -- "$cur")) ;;
`)
	names := make([]string, 0, len(flagValues))
	for n := range flagValues {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\t\t--%s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", n, flagValues[n])
	}
	b.WriteString(`		--spec) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -X '!*.toml' -- "$cur") $(compgen -d -- "$cur")) ;;
		esac
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
		return 0
	fi
	case $args in
	spec) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -X '!*.toml' -- "$cur") $(compgen -d -- "$cur")) ;;
	file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
	host) COMPREPLY=($(compgen -A hostname -- "$cur")) ;;
	esac
	return 0
}
complete -F _knockc knockc
`)
	return b.String(), nil
}
