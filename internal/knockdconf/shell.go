package knockdconf

import (
	"errors"
	"fmt"
	"strings"
)

// simple is one simple command of a knockd command line, as /bin/sh
// would split it: its words with quotes removed, and what makes it more
// than a plain program call.
type simple struct {
	Words []string
	Text  string // as written, for messages
	// Problem says why the part cannot be read as a plain program call
	// (a pipe, a substitution, a redirection to a file); empty when it can.
	Problem string
}

// splitList breaks a command line into its simple commands: they are
// separated by &&, ||, ; or &, and a # that starts a word starts a
// comment running to the end of the line. Quotes ('…', "…") and
// backslashes group as the shell does. It fails only on an unterminated
// quote or an empty command; shell syntax it does not follow (pipes,
// $(…), `…`, $VAR, redirections other than to /dev/null, subshells) marks
// the part's Problem instead.
func splitList(cmd string) ([]simple, error) {
	rs := []rune(cmd) // start and the ends below index rs
	var out []simple
	cur := simple{}
	var word strings.Builder
	inWord := false
	start := 0
	endWord := func() {
		if inWord {
			cur.Words = append(cur.Words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCmd := func(end int) {
		endWord()
		cur.Text = strings.TrimSpace(string(rs[start:end]))
		if len(cur.Words) > 0 || cur.Problem != "" {
			out = append(out, cur)
		}
		cur = simple{}
	}
	problem := func(format string, args ...any) {
		if cur.Problem == "" {
			cur.Problem = fmt.Sprintf(format, args...)
		}
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, errors.New("has an unterminated quote (')")
			}
			word.WriteString(string(rs[i+1 : j]))
			inWord = true
			i = j
			continue
		case r == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[j+1]):
					j++
					word.WriteRune(rs[j])
				case rs[j] == '$' || rs[j] == '`':
					problem("uses a shell substitution (%q)", rs[j])
					word.WriteRune(rs[j])
				default:
					word.WriteRune(rs[j])
				}
			}
			if j == len(rs) {
				return nil, errors.New("has an unterminated quote (\")")
			}
			inWord = true
			i = j
			continue
		case r == '\\':
			if i+1 < len(rs) {
				word.WriteRune(rs[i+1])
				inWord = true
				i++
				continue
			}
		case r == '#' && !inWord:
			endCmd(i)
			return finish(out)
		case r == ' ' || r == '\t':
			endWord()
		case r == '&' || r == ';' || r == '|':
			op := string(r)
			if i+1 < len(rs) && (rs[i+1] == '&' || rs[i+1] == '|') && rs[i+1] == r {
				op += string(r)
			}
			if op == "|" {
				problem("pipes its output into another program (|)")
				endWord()
				break
			}
			endCmd(i)
			i += len(op) - 1
			start = i + 1
			continue
		case r == '>' || r == '<':
			// A redirection: to /dev/null (or 2>&1) it changes nothing
			// knockc cares about; anything else is reported.
			j := i + 1
			for j < len(rs) && (rs[j] == '>' || rs[j] == '&') {
				j++
			}
			for j < len(rs) && (rs[j] == ' ' || rs[j] == '\t') {
				j++
			}
			k := j
			for k < len(rs) && !strings.ContainsRune(" \t;&|", rs[k]) {
				k++
			}
			target := string(rs[j:k])
			if inWord && (word.String() == "1" || word.String() == "2") {
				word.Reset() // the fd number of 2>/dev/null
				inWord = false
			}
			endWord()
			harmless := r == '>' && (target == "/dev/null" || target == "1" || target == "2")
			if !harmless {
				problem("redirects %s (%s)", map[rune]string{'>': "its output to a file", '<': "its input from a file"}[r], strings.TrimSpace(string(rs[i:k])))
			}
			i = k - 1
			continue
		case r == '$' || r == '`':
			problem("uses a shell substitution or variable (%q)", r)
			word.WriteRune(r)
			inWord = true
		case r == '(' || r == ')':
			problem("uses a subshell (%q)", r)
		case r == '\n' || r == '\r':
			endWord()
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	endCmd(len(rs))
	return finish(out)
}

// finish returns the parts, or an error when there are none.
func finish(out []simple) ([]simple, error) {
	if len(out) == 0 {
		return nil, errors.New("is empty")
	}
	return out, nil
}
