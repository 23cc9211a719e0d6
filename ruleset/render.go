package ruleset

import (
	"fmt"
	"strings"
	"time"
)

// Render returns t in nft syntax, laid out exactly as `nft list table inet
// NAME` prints it, so the text can be loaded with `nft -f` and compared with
// the kernel's own listing. Sets come before chains, each in model order.
func Render(t *Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", t.Name)
	first := true
	sep := func() {
		if !first {
			b.WriteString("\n")
		}
		first = false
	}
	for _, s := range t.Sets {
		sep()
		b.WriteString(s.Block("\t"))
	}
	for _, c := range t.Chains {
		sep()
		b.WriteString(c.Block("\t"))
	}
	b.WriteString("}\n")
	return b.String()
}

// Block renders the set definition as an indented nft block.
func (s *Set) Block(indent string) string {
	var b strings.Builder
	in := indent + "\t"
	fmt.Fprintf(&b, "%sset %s {\n", indent, s.Name)
	if s.Typeof != nil {
		fmt.Fprintf(&b, "%stypeof %s\n", in, s.Typeof)
	} else {
		fmt.Fprintf(&b, "%stype %s\n", in, s.Family.KeyType())
	}
	if s.Size > 0 {
		fmt.Fprintf(&b, "%ssize %d\n", in, s.Size)
	}
	fmt.Fprintf(&b, "%sflags dynamic,timeout\n", in)
	if s.Timeout > 0 {
		fmt.Fprintf(&b, "%stimeout %s\n", in, FormatDuration(s.Timeout))
	}
	fmt.Fprintf(&b, "%s}\n", indent)
	return b.String()
}

// Block renders the chain with its hook line and rules as an indented nft block.
func (c *Chain) Block(indent string) string {
	var b strings.Builder
	in := indent + "\t"
	fmt.Fprintf(&b, "%schain %s {\n", indent, c.Name)
	if c.Hook != nil {
		fmt.Fprintf(&b, "%s%s\n", in, c.Hook)
	}
	for _, r := range c.Rules {
		fmt.Fprintf(&b, "%s%s\n", in, r)
	}
	fmt.Fprintf(&b, "%s}\n", indent)
	return b.String()
}

// String renders the hook line: "type filter hook input priority mangle; policy accept;".
func (h *Hook) String() string {
	return fmt.Sprintf("type %s hook %s priority %s; policy %s;", h.Type, h.Hook, PriorityName(h.Hook, h.Priority), h.Policy)
}

// FormatDuration renders d as nft does: "1d2h3m4s500ms", largest unit first,
// zero units left out.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	ms := d.Milliseconds()
	units := []struct {
		suffix string
		ms     int64
	}{{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}}
	var b strings.Builder
	for _, u := range units {
		if n := ms / u.ms; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			ms -= n * u.ms
		}
	}
	return b.String()
}
