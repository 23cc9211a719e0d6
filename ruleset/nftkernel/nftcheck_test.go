//go:build linux

package nftkernel

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

// checkAgainstNft proves, in the throwaway namespace ns whose nftables conn
// talks to, what docs/testing.md promises for every table knockc renders:
//
//   - nft -c -f accepts the rendered text, and the operation list
//     (ruleset.Transaction) as a script;
//   - Apply of want succeeds, nft list table prints exactly the render, the
//     table read back has no diff with want, and a second apply sends
//     nothing (the ruleset generation does not move);
//   - the render loaded by nft itself (nft -f, nft's own bytecode) reads
//     back with no diff with want either.
//
// It leaves no table behind and returns the first problem found. dir holds
// markerRE matches the marker chain in nft's listing of a knockc table.
var markerRE = regexp.MustCompile(`\n\n\tchain knockc_owner \{\n\t\treturn comment "knockc owner [^"]*"\n\t\}`)

// the rendered file.
func checkAgainstNft(ns *netns.NS, conn *Conn, want *ruleset.Table, dir string) error {
	text := ruleset.Render(want)
	xt := false
	if usesQueue(want) {
		mode, err := conn.QueueMode()
		if err != nil {
			return fmt.Errorf("QueueMode() = %w", err)
		}
		xt = mode == QueueXT
	}
	listing := text
	if xt {
		// This kernel has no nft_queue: nft can neither check nor load the
		// queue statement, and apply uses the xt NFQUEUE target, which nft
		// lists as "queue num N" when iptables' libxt_NFQUEUE is installed
		// and as nothing otherwise. Expect what this host's nft prints for
		// it, and check the rest of the text with drop in its place.
		form, err := xtQueueListing(ns)
		if err != nil {
			return err
		}
		listing = queueRE.ReplaceAllStringFunc(listing, func(q string) string {
			return strings.ReplaceAll(form, "NUM", strings.TrimPrefix(q, "queue num "))
		})
		text = queueRE.ReplaceAllString(text, "drop")
	}
	file := filepath.Join(dir, want.Name+".nft")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return err
	}
	if out, err := ns.Exec("nft", "-c", "-f", file); err != nil {
		return fmt.Errorf("nft -c -f of the render: %v\n%s", err, out)
	}
	// The operation list plan prints and apply sends is an nft script
	// that does the same: nft checks it too.
	script := ruleset.Script(ruleset.Transaction(want, nil))
	if xt {
		script = queueRE.ReplaceAllString(script, "drop")
	}
	opsFile := filepath.Join(dir, want.Name+".ops")
	if err := os.WriteFile(opsFile, []byte(script), 0o644); err != nil {
		return err
	}
	if out, err := ns.Exec("nft", "-c", "-f", opsFile); err != nil {
		return fmt.Errorf("nft -c -f of the operation list: %v\n%s\n%s", err, out, script)
	}
	// Update is what knockc apply does: plan from a read, one batch tied
	// to the generation planned from, the ownership mark, a read-back.
	if res, err := conn.Update(want, UpdateOptions{}); err != nil {
		return fmt.Errorf("Update() = %w", err)
	} else if !res.Sent {
		return fmt.Errorf("Update() of a new table sent nothing")
	}
	defer conn.Delete(want.Name)
	listed, err := ns.Exec("nft", "list", "table", "inet", want.Name)
	if err != nil {
		return fmt.Errorf("nft list table: %v\n%s", err, listed)
	}
	// Apply adds knockc's marker chain (owner.go), which render leaves out.
	if !markerRE.MatchString(listed) {
		return fmt.Errorf("nft list table shows no %s chain:\n%s", OwnerChain, listed)
	}
	listed = markerRE.ReplaceAllString(listed, "")
	if diff := cmp.Diff(listing, listed); diff != "" {
		return fmt.Errorf("nft list table differs from render (-render +nft):\n%s", diff)
	}
	have, err := conn.Read(want.Name)
	if err != nil {
		return fmt.Errorf("Read() = %w", err)
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		return fmt.Errorf("read back differs from the model:\n%s", p)
	}
	gen, err := conn.Generation()
	if err != nil {
		return err
	}
	if res, err := conn.Update(want, UpdateOptions{}); err != nil {
		return fmt.Errorf("second Update() = %w", err)
	} else if res.Sent || !res.Plan.Empty() {
		return fmt.Errorf("second Update() of the same table sent a batch (plan %s)", res.Plan.Summary())
	}
	if again, err := conn.Generation(); err != nil {
		return err
	} else if again != gen {
		return fmt.Errorf("second apply of the same table sent a batch (generation %d -> %d)", gen, again)
	}
	if err := conn.Delete(want.Name); err != nil {
		return fmt.Errorf("Delete() = %w", err)
	}
	if xt {
		return nil // nft cannot load the queue statement here
	}
	if out, err := ns.Exec("nft", "-f", file); err != nil {
		return fmt.Errorf("nft -f of the render: %v\n%s", err, out)
	}
	have, err = conn.Read(want.Name)
	if err != nil {
		return fmt.Errorf("Read() after nft -f = %w", err)
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		return fmt.Errorf("table loaded by nft -f reads back differently from the model:\n%s", strings.TrimSpace(p.String()))
	}
	return nil
}

// xtForm caches xtQueueListing's answer: it depends on this host's nft
// and its xtables extensions, not on the namespace.
var xtForm struct {
	sync.Mutex
	form string
	done bool
}

// xtQueueListing finds out how this host's nft lists the xt NFQUEUE
// target: it applies a probe table with one such rule (queue 4242) in ns,
// lists it and removes it. The answer is the rule's text with NUM for the
// queue number: "queue num NUM" where iptables' libxt_NFQUEUE translates
// it, "" where nft prints nothing for it.
func xtQueueListing(ns *netns.NS) (string, error) {
	xtForm.Lock()
	defer xtForm.Unlock()
	if xtForm.done {
		return xtForm.form, nil
	}
	nft, err := nftables.New(nftables.WithNetNSFd(ns.Fd()))
	if err != nil {
		return "", fmt.Errorf("xt probe: %w", err)
	}
	defer nft.CloseLasting()
	tbl := nft.AddTable(&nftables.Table{Name: "knockc_xtprobe", Family: nftables.TableFamilyINet})
	ch := nft.AddChain(&nftables.Chain{Name: "probe", Table: tbl})
	nft.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{queueExpr(ruleset.Queue{Num: 4242}, QueueXT)}})
	if err := nft.Flush(); err != nil {
		return "", fmt.Errorf("xt probe: apply: %w", err)
	}
	out, lerr := ns.Exec("nft", "list", "chain", "inet", "knockc_xtprobe", "probe")
	nft.DelTable(tbl)
	if err := nft.Flush(); err != nil {
		return "", fmt.Errorf("xt probe: delete: %w", err)
	}
	if lerr != nil {
		return "", fmt.Errorf("xt probe: %w", lerr)
	}
	// The chain's only line that is neither its head nor its braces.
	var rule []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "}" && !strings.HasSuffix(line, "{") {
			rule = append(rule, line)
		}
	}
	switch {
	case len(rule) == 0:
		xtForm.form = ""
	case len(rule) == 1 && strings.Contains(rule[0], "4242"):
		xtForm.form = strings.ReplaceAll(rule[0], "4242", "NUM")
	default:
		return "", fmt.Errorf("xt probe: nft lists the xt NFQUEUE target as %q, want one line naming queue 4242 or nothing", rule)
	}
	xtForm.done = true
	return xtForm.form, nil
}
