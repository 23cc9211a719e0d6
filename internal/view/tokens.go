package view

import "time"

// TokenKey is one key of a token door as the kernel holds it (after an
// apply's top-up, or as plan and status find it): docs/tokens.md.
type TokenKey struct {
	Door    string `json:"door"`
	Key     string `json:"key"`
	Unspent int    `json:"unspent"`
	// Added is how many tokens the top-up added (apply) or would add (plan,
	// status); top-ups are state and never count as changes.
	Added int `json:"added"`
	// InstalledThrough is when the last slot installed ends.
	InstalledThrough time.Time `json:"installed_through"`
	// WorksUntil is when a client whose clock is skew fast stops opening
	// the door, without another top-up; LeftSeconds is the time until then.
	WorksUntil  time.Time `json:"works_until"`
	LeftSeconds float64   `json:"left_seconds"`
}
