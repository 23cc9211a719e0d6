package examples

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PolkitRuleFile is the shipped polkit rule for the monitor's user.
const PolkitRuleFile = "10-knockc-monitor.rules"

// polkitUnitsLine is the line of PolkitRuleFile that lists the units.
const polkitUnitsLine = `    var units = ["ssh.service"];`

// PolkitRule returns the shipped polkit rule with units as the systemd
// units the monitor's user may start and stop (docs/faults.md, "Least
// privilege"); an empty list allows none. It fails only when the shipped
// file lacks its list of units.
func PolkitRule(units []string) (string, error) {
	data, err := FS.ReadFile(PolkitRuleFile)
	if err != nil {
		return "", fmt.Errorf("polkit rule: %w", err)
	}
	text := string(data)
	if strings.Count(text, polkitUnitsLine) != 1 {
		return "", fmt.Errorf("polkit rule: %s has no line %q", PolkitRuleFile, polkitUnitsLine)
	}
	if units == nil {
		units = []string{}
	}
	// JSON string literals are JavaScript string literals (encoding/json
	// escapes U+2028 and U+2029 too).
	list, err := json.Marshal(units)
	if err != nil {
		return "", fmt.Errorf("polkit rule: %w", err)
	}
	return strings.Replace(text, polkitUnitsLine, "    var units = "+string(list)+";", 1), nil
}
