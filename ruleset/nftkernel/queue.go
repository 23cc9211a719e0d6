package nftkernel

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/knockc/knockc/ruleset"
)

// QueueMode is how the kernel takes knockc's queue statement.
type QueueMode int

// The two ways to send a packet to NFQUEUE from an nftables rule.
const (
	// QueueNative is nft's queue statement; it needs the nft_queue module,
	// which distribution kernels ship.
	QueueNative QueueMode = iota + 1
	// QueueXT is the xtables NFQUEUE target run through nft_compat, for
	// kernels built without nft_queue. `nft list` prints nothing for it.
	QueueXT
)

// String says which one is in use, for plan and status.
func (m QueueMode) String() string {
	switch m {
	case QueueNative:
		return "nftables queue statement (nft_queue)"
	case QueueXT:
		return "xtables NFQUEUE target (nft_compat; this kernel has no nft_queue)"
	}
	return "unknown"
}

// xtNFQueueRev is the revision of xt_NFQ_info_v1 {u16 queuenum; u16 queues_total}.
const xtNFQueueRev = 1

// queueExprs returns the expression that queues to q.Num, in mode.
func queueExpr(q ruleset.Queue, mode QueueMode) expr.Any {
	if mode == QueueXT {
		info := make([]byte, 8) // XT_ALIGN(4): native-endian fields, zero padding
		binary.NativeEndian.PutUint16(info[0:], q.Num)
		binary.NativeEndian.PutUint16(info[2:], 1)
		u := xt.Unknown(info)
		return &expr.Target{Name: "NFQUEUE", Rev: xtNFQueueRev, Info: &u}
	}
	return &expr.Queue{Num: q.Num}
}

// queueStmt matches either form of knockc's queue statement (no bypass, no
// fanout, one queue).
func queueStmt(es []expr.Any) (ruleset.Stmt, int) {
	if len(es) == 0 {
		return nil, 0
	}
	switch e := es[0].(type) {
	case *expr.Queue:
		if e.Flag == 0 && e.Total <= 1 {
			return ruleset.Queue{Num: e.Num}, 1
		}
	case *expr.Target:
		if e.Name != "NFQUEUE" || e.Rev != xtNFQueueRev {
			return nil, 0
		}
		var info []byte
		switch i := e.Info.(type) {
		case *xt.Unknown:
			info = *i
		default:
			return nil, 0
		}
		if len(info) >= 4 && binary.NativeEndian.Uint16(info[2:]) <= 1 {
			return ruleset.Queue{Num: binary.NativeEndian.Uint16(info[0:]), XT: true}, 1
		}
	}
	return nil, 0
}

// QueueMode finds out, once per connection, which form of the queue
// statement the kernel accepts: it sends a probe table with one queue rule
// in a batch that is sure to fail (see sentinelTable), so the kernel checks
// the rule and then throws the batch away. It fails when neither works.
func (c *Conn) QueueMode() (QueueMode, error) {
	if c.queueMode != 0 {
		return c.queueMode, nil
	}
	for _, mode := range []QueueMode{QueueNative, QueueXT} {
		nft, err := nftables.New(c.connOpts()...)
		if err != nil {
			return 0, fmt.Errorf("probe queue support: %w", err)
		}
		tbl := nft.AddTable(&nftables.Table{Name: "knockc_probe", Family: nftables.TableFamilyINet})
		ch := nft.AddChain(&nftables.Chain{Name: "probe", Table: tbl})
		nft.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{queueExpr(ruleset.Queue{}, mode)}})
		nft.DelTable(&nftables.Table{Name: sentinelTable, Family: nftables.TableFamilyINet})
		if errorCount(nft.Flush()) == 1 { // only the sentinel failed
			c.queueMode = mode
			return mode, nil
		}
	}
	return 0, fmt.Errorf("probe queue support: the kernel takes neither nft's queue statement (nft_queue) nor the xt NFQUEUE target (nft_compat); use pending = \"drop\"")
}

// usesQueue reports whether any rule of t queues packets.
func usesQueue(t *ruleset.Table) bool { return t.Queue() != nil }
