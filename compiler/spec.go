package compiler

import (
	"net/netip"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// Spec is a loaded and validated knock.toml.
type Spec struct {
	File  string
	Table TableSpec
	Doors []*Door // sorted by name
}

// TableSpec is the [table] section: the one nftables table knockc owns.
type TableSpec struct {
	Name       string   // nftables table name, family inet
	Priority   int      // hook priority of the input chain
	LogGroup   uint16   // NFLOG group that carries door events to the monitor
	HoldQueue  uint16   // NFQUEUE queue where pending knockers' packets wait
	Closed     string   // "reject" (answer like a closed port) or "drop"
	Interfaces []string // only knocks arriving here count; empty: all but lo
	AnswerPort uint16   // where non-granted packets go so the stack answers; 0: port 0
	GrantMark  uint32   // packet mark set on granted packets; 0: none

	answerAt func() Pos // where answer_port was written, nil when it was not
}

// ListsLoopback reports whether lo is named in Interfaces (by name, not by
// a wildcard): only then does knockc gate loopback and count knocks on it.
// By default loopback is local traffic, which knockc lets through.
func (t TableSpec) ListsLoopback() bool {
	for _, n := range t.Interfaces {
		if n == "lo" {
			return true
		}
	}
	return false
}

// Door is one [door.NAME] section: a knock sequence that opens protected
// ports for the knocker's address, and optionally one that closes them.
type Door struct {
	Name          string // normalised: lower case, "-" becomes "_"
	Pos           Pos    // of the [door.NAME] header
	Sequence      []Step
	CloseSequence []Step
	StepTimeout   time.Duration // most time between two knocks
	SeqTimeout    time.Duration // most time from first to last knock
	TCPFlags      TCPFlags      // which TCP packets count as a knock
	Strict        bool          // a wrong knock mid-sequence restarts it
	Protect       []Step
	OpenFor       time.Duration // how long the knocker may open new connections
	Service       string        // systemd unit started on the first grant
	StartCommand  []string      // argv run instead of a systemd unit
	StopCommand   []string
	StartTimeout  time.Duration // most time the service may take to come up
	Hold          bool          // pending knockers' packets wait in NFQUEUE, not dropped
	StopWhenIdle  bool          // stop the service when its last grant ends
	OnOpen        []string      // argv hooks; the address comes in the environment
	OnClose       []string
	Families      []ruleset.Family
	AllowFrom     []netip.Prefix // only these sources may knock; empty: any
	FloodRate     int            // knocks per second each step set must absorb
	MaxGrants     int            // most knockers pending or granted at once
	GrantMark     *uint32        // this door's grant mark, when it has its own (0: none); nil: table.grant_mark
	Token         *TokenDoor     // set when the door opens by one-time token

	pos map[string]func() Pos // where each key was written, for semantic errors
}

// Managed reports whether the monitor starts and stops a service for the
// door. An unmanaged door is granted by the kernel alone, on the last knock.
func (d *Door) Managed() bool { return d.Service != "" || len(d.StartCommand) > 0 }

// HasFamily reports whether the door accepts knocks over f.
func (d *Door) HasFamily(f ruleset.Family) bool {
	for _, x := range d.Families {
		if x == f {
			return true
		}
	}
	return false
}

// Defaults for everything a spec may leave out.
const (
	DefaultTableName    = "knockc"
	DefaultPriority     = -150 // after conntrack (-200), before filter (0)
	DefaultLogGroup     = 4242
	DefaultClosed       = "reject"
	DefaultStepTimeout  = 5 * time.Second
	DefaultOpenFor      = 30 * time.Second
	DefaultStartTimeout = 30 * time.Second
	DefaultFloodRate    = 25000
	DefaultMaxGrants    = 1024
	MaxSteps            = 16
	DefaultPending      = "hold"
	maxDoorName         = 24
)

// DefaultTCPFlags counts a TCP packet as a knock when SYN is set and ACK is
// clear: what a connect() sends first, and no SYN-ACK or stray segment.
var DefaultTCPFlags = TCPFlags{Flags: 0x02, Mask: 0x12}
