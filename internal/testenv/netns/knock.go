package netns

import "github.com/knockc/knockc/internal/sandbox"

// Outcome is how a TCP connection attempt ended (sandbox.Outcome).
type Outcome = sandbox.Outcome

// The outcomes of a connection attempt.
const (
	Open    = sandbox.Open    // the handshake completed
	Refused = sandbox.Refused // the server answered with a reset
	Timeout = sandbox.Timeout // nothing came back in time
	Error   = sandbox.Error   // any other failure
)

// TCP header flags for Client.SendTCPFlags.
const (
	FIN = sandbox.FIN
	SYN = sandbox.SYN
	RST = sandbox.RST
	PSH = sandbox.PSH
	ACK = sandbox.ACK
	URG = sandbox.URG
	ECE = sandbox.ECE
	CWR = sandbox.CWR
)
