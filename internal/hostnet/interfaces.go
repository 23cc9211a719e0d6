package hostnet

import "strings"

// Missing returns the names in listed that are not in present, in listed's
// order. A name ending in "*" is a prefix: it is missing only when no
// present interface starts with it (it may match interfaces made later, as
// wg0 or a VPN's tun, so callers should word it as a note, not an error).
func Missing(listed, present []string) []string {
	var out []string
	for _, l := range listed {
		found := false
		prefix, wild := strings.CutSuffix(l, "*")
		for _, p := range present {
			if p == l || wild && strings.HasPrefix(p, prefix) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, l)
		}
	}
	return out
}
