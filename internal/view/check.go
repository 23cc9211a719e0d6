package view

import (
	"sort"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Check is what `knockc check --json` prints for a valid spec (an invalid
// one gets an Error).
type Check struct {
	FormatVersion string   `json:"format_version"`
	Valid         bool     `json:"valid"` // always true: an invalid spec is an Error
	Table         string   `json:"table"`
	Doors         []string `json:"doors"` // door names, sorted
	Memory        Memory   `json:"memory"`
}

// NewCheck builds the check view of a valid spec and its compiled table.
func NewCheck(spec *compiler.Spec, t *ruleset.Table) *Check {
	v := &Check{FormatVersion: FormatVersion, Valid: true, Table: t.Name, Doors: []string{}, Memory: NewMemory(t)}
	for _, d := range spec.Doors {
		v.Doors = append(v.Doors, d.Name)
	}
	sort.Strings(v.Doors)
	return v
}
