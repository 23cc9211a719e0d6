// Package view holds what knockc prints: the human text and the JSON
// documents of plan, apply, status and errors, as typed structs built from
// the library's results. The JSON documents are a stable interface for
// automation (Ansible, CI scripts); their schemas are written down in
// docs/operations.md, and FormatVersion changes when a field changes
// meaning or disappears (adding a field does not change it).
//
// The package is pure: it turns values into text and never talks to the
// kernel.
package view
