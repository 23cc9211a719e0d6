package nftkernel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Change is one committed nf_tables batch that added or removed a table,
// chain, rule, set or object (set elements alone do not count: every grant
// would be one). It names the batch's generation and the process that
// committed it, as the kernel reports them.
type Change struct {
	Gen     uint32
	PID     uint32
	Proc    string   // the committing process's name ("nft", "knockc"...)
	Tables  []string // tables the batch touched
	Overrun bool     // notifications were lost (socket buffer full): read everything again
}

// Touches reports whether the change concerns table (always, after an overrun).
func (ch Change) Touches(table string) bool {
	if ch.Overrun {
		return true
	}
	for _, t := range ch.Tables {
		if t == table {
			return true
		}
	}
	return false
}

// nf_tables message types (include/uapi/linux/netfilter/nf_tables.h) that
// change the ruleset's shape; NFT_MSG_NEWGEN ends every committed batch.
var shapeMsgs = map[uint8]bool{
	unix.NFT_MSG_NEWTABLE: true, unix.NFT_MSG_DELTABLE: true,
	unix.NFT_MSG_NEWCHAIN: true, unix.NFT_MSG_DELCHAIN: true,
	unix.NFT_MSG_NEWRULE: true, unix.NFT_MSG_DELRULE: true,
	unix.NFT_MSG_NEWSET: true, unix.NFT_MSG_DELSET: true,
	unix.NFT_MSG_NEWOBJ: true, unix.NFT_MSG_DELOBJ: true,
	26: true, 27: true, 28: true, 29: true, // NFT_MSG_DESTROY{TABLE,CHAIN,RULE,SET} (Linux 6.3)
}

// NFTA_GEN_* attributes of NFT_MSG_NEWGEN.
const (
	nftaGenID       = 1
	nftaGenProcPID  = 2
	nftaGenProcName = 3
)

// Watcher delivers nf_tables change notifications; see Watch.
type Watcher struct {
	nl   *netlink.Conn
	done chan struct{}
}

// Watch subscribes to nf_tables' notifications (the NFNLGRP_NFTABLES
// multicast group, what `nft monitor` reads) in the connection's network
// namespace and sends one Change per committed batch that touched any
// table's shape, until ctx ends or Close. The kernel sends them as it
// commits, so a `nft flush ruleset` is seen within microseconds, not at
// the next poll. Sends never block: when out is full the Change is
// dropped, so give out room and read the table again on every Change
// (what a Change says is a hint; the kernel's table is the truth).
//
// google/nftables v0.3.0 has a Monitor too, but it decodes every object,
// set elements included, into library types; knockc needs only which
// tables a batch touched.
func (c *Conn) Watch(ctx context.Context, out chan<- Change) (*Watcher, error) {
	cfg := &netlink.Config{}
	if c.ns != nil {
		cfg.NetNS = int(c.ns.Fd())
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("watch nf_tables: %w", err)
	}
	if err := forceBuffers(nl); err != nil {
		nl.Close()
		return nil, err
	}
	if err := nl.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		nl.Close()
		return nil, fmt.Errorf("watch nf_tables: join group: %w", err)
	}
	w := &Watcher{nl: nl, done: make(chan struct{})}
	go func() {
		<-ctx.Done()
		w.Close()
	}()
	go w.run(out)
	return w, nil
}

// Close stops the watcher.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
		close(w.done)
		return w.nl.Close()
	}
}

func (w *Watcher) run(out chan<- Change) {
	send := func(ch Change) {
		select {
		case out <- ch:
		default:
		}
	}
	var pending Change
	touched := map[string]bool{}
	for {
		msgs, err := w.nl.Receive()
		if err != nil {
			select {
			case <-w.done:
				return
			default:
			}
			if errors.Is(err, unix.ENOBUFS) {
				send(Change{Overrun: true})
				clear(touched)
				continue
			}
			// A socket that fails for another reason is beyond repair:
			// say so once, as an overrun, and stop.
			send(Change{Overrun: true})
			return
		}
		for _, m := range msgs {
			typ := uint16(m.Header.Type)
			if typ>>8 != unix.NFNL_SUBSYS_NFTABLES || len(m.Data) < 4 {
				continue
			}
			msg := uint8(typ & 0xff)
			switch {
			case shapeMsgs[msg]:
				// NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,OBJ_TABLE}
				// are all attribute 1: the table's name.
				if name := attrString(m.Data[4:], 1); name != "" {
					touched[name] = true
				}
			case msg == unix.NFT_MSG_NEWGEN:
				if len(touched) == 0 {
					continue
				}
				pending = Change{}
				ad, err := netlink.NewAttributeDecoder(m.Data[4:])
				if err == nil {
					for ad.Next() {
						switch ad.Type() {
						case nftaGenID:
							pending.Gen = binary.BigEndian.Uint32(ad.Bytes())
						case nftaGenProcPID:
							pending.PID = binary.BigEndian.Uint32(ad.Bytes())
						case nftaGenProcName:
							pending.Proc = strings.TrimRight(ad.String(), "\x00")
						}
					}
				}
				for t := range touched {
					pending.Tables = append(pending.Tables, t)
				}
				clear(touched)
				send(pending)
			}
		}
	}
}

// attrString returns the string attribute typ of a netlink attribute
// list, or "" if it is not there.
func attrString(b []byte, typ uint16) string {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) & 0x3fff
		if l < 4 || l > len(b) {
			return ""
		}
		if t == typ {
			return strings.TrimRight(string(b[4:l]), "\x00")
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return ""
}
