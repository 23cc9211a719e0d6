package nftkernel

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// opDelete is NFT_DYNSET_OP_DELETE, which golang.org/x/sys does not name.
const opDelete = 2

// ErrRawStatement is wrapped by RuleExprs when a rule holds a ruleset.Raw
// statement: text read back from the kernel that knockc cannot send again.
var ErrRawStatement = errors.New("raw statement cannot be sent to the kernel")

// Limits nft 1.0.6 puts on text it accepts.
const (
	maxCommentLen   = 128 // NFTNL_UDATA_COMMENT_MAXLEN
	maxLogPrefixLen = 127 // NF_LOG_PREFIXLEN less the NUL
	maxIfNameLen    = unix.IFNAMSIZ - 1
)

// maxUserDataText is the longest text a single userdata TLV holds with its
// NUL: the length is one byte and the kernel keeps at most 256 bytes.
const maxUserDataText = 253

// TableObj returns the inet table t as a google/nftables table. It never fails.
func TableObj(t *ruleset.Table) *nftables.Table {
	return &nftables.Table{Name: t.Name, Family: nftables.TableFamilyINet}
}

// SetObj returns s as a dynamic set with timeouts in tbl, keyed by IPv4
// addresses, or IPv6 addresses when s.Family is IPv6, as nft would create it
// from s.Block. It never fails; a zero Timeout or Size is left out.
func SetObj(tbl *nftables.Table, s *ruleset.Set) *nftables.Set {
	return &nftables.Set{
		Table:        tbl,
		Name:         s.Name,
		KeyType:      keyType(s.Family),
		KeyByteOrder: binaryutil.BigEndian, // what nft records for address keys
		Dynamic:      true,
		HasTimeout:   true,
		Timeout:      s.Timeout,
		Size:         s.Size,
	}
}

// ChainObj returns c as a chain in tbl: a regular chain, or a base chain when
// c.Hook is set. It fails for a hook type, hook or policy nft would not
// accept in an inet table without a device, and for a priority outside int32.
func ChainObj(tbl *nftables.Table, c *ruleset.Chain) (*nftables.Chain, error) {
	ch := &nftables.Chain{Name: c.Name, Table: tbl}
	h := c.Hook
	if h == nil {
		return ch, nil
	}
	typ, ok := chainTypes.kernel(h.Type)
	if !ok {
		return nil, fmt.Errorf("chain %q: unknown chain type %q", c.Name, h.Type)
	}
	num, ok := hooks.kernel(h.Hook)
	if !ok || h.Hook == ruleset.HookIngress { // ingress needs a device
		return nil, fmt.Errorf("chain %q: unknown hook %q", c.Name, h.Hook)
	}
	policy, ok := policies.kernel(h.Policy)
	if !ok {
		return nil, fmt.Errorf("chain %q: unknown policy %q", c.Name, h.Policy)
	}
	if h.Priority < math.MinInt32 || h.Priority > math.MaxInt32 {
		return nil, fmt.Errorf("chain %q: priority %d out of range", c.Name, h.Priority)
	}
	ch.Type = typ
	ch.Hooknum = nftables.ChainHookRef(num)
	ch.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(h.Priority))
	ch.Policy = &policy
	return ch, nil
}

// RuleUserData returns the rule userdata nft writes for comment: one TLV of
// type 0 holding the NUL-terminated text, e.g. "\x00\x09door=ssh\x00". It
// returns nil for an empty comment, as nft writes none. A comment too long
// for one TLV is cut short; RuleExprs rejects those before it comes to that.
func RuleUserData(comment string) []byte {
	if comment == "" {
		return nil
	}
	if len(comment) > maxUserDataText {
		comment = comment[:maxUserDataText]
	}
	return userdata.AppendString(nil, userdata.TypeComment, comment)
}

// RuleExprs returns the expressions nft 1.0.6 generates for r's text, with
// nft's implicit protocol dependencies. It fails (wrapping ErrRawStatement
// for a Raw statement) for any rule the kernel would not list back as
// ruleset.Render prints it: see the package doc for the cases.
func RuleExprs(r *ruleset.Rule) ([]expr.Any, error) { return ruleExprs(r, QueueNative) }

// ruleExprs is RuleExprs with queue statements in the given mode.
func ruleExprs(r *ruleset.Rule, queue QueueMode) ([]expr.Any, error) {
	if err := checkText("comment", r.Comment, maxCommentLen); err != nil {
		return nil, fmt.Errorf("rule %q: %w", r, err)
	}
	b := builder{queue: queue}
	for i, s := range r.Stmts {
		if err := b.stmt(s, r.Stmts[i+1:]); err != nil {
			return nil, fmt.Errorf("rule %q: %w", r, err)
		}
	}
	return b.exprs, nil
}

// builder accumulates a rule's expressions and the protocol context nft
// tracks while it linearises a rule: which nfproto and l4proto the rule has
// already matched.
type builder struct {
	exprs []expr.Any
	nf    ruleset.Family
	l4    ruleset.Proto
	queue QueueMode
}

func (b *builder) add(es ...expr.Any) { b.exprs = append(b.exprs, es...) }

// stmt appends the expressions of s; rest are the statements after it.
func (b *builder) stmt(s ruleset.Stmt, rest []ruleset.Stmt) error {
	switch s := s.(type) {
	case ruleset.CTState:
		return b.ctState(s)
	case ruleset.IIFName:
		return b.iifname(s)
	case ruleset.L4Proto:
		return b.l4proto(s, rest)
	case ruleset.DPort:
		if err := checkProto(s.Proto); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if err := b.needL4(s.Proto); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		b.add(
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: dportOffset, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: binaryutil.BigEndian.PutUint16(s.Port)},
		)
	case ruleset.TCPFlags:
		return b.tcpFlags(s)
	case ruleset.SAddrIn:
		if s.Set == "" {
			return fmt.Errorf("%s: empty set name", s)
		}
		if err := b.saddr(s.Family); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		b.add(&expr.Lookup{SourceRegister: reg, SetName: s.Set, Invert: s.Not})
	case ruleset.SAddrPrefix:
		return b.saddrPrefix(s)
	case ruleset.SetSAddr:
		return b.setSAddr(s)
	case ruleset.Log:
		if err := checkText("log prefix", s.Prefix, maxLogPrefixLen); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		b.add(&expr.Log{
			Key:   1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX,
			Group: s.Group,
			Data:  []byte(s.Prefix),
		})
	case ruleset.Verdict:
		return b.verdict(s)
	case ruleset.Reject:
		if !s.TCPReset {
			b.add(&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
			return nil
		}
		// nft would put a meta l4proto tcp in front and list it; the rule
		// must match TCP itself so its text stays as rendered.
		if b.l4 != ruleset.TCP {
			return fmt.Errorf("%s: needs a tcp match earlier in the rule", s)
		}
		b.add(&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	case ruleset.Queue:
		b.add(queueExpr(s, b.queue))
	case ruleset.NFProto:
		return b.nfproto(s, rest)
	case ruleset.PayloadIn:
		return b.payloadIn(s)
	case ruleset.SetPayload:
		return b.setPayload(s)
	case ruleset.SPort:
		if err := checkProto(s.Proto); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if err := b.needL4(s.Proto); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		b.add(
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: sportOffset, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: binaryutil.BigEndian.PutUint16(s.Port)},
		)
	case ruleset.DAddrIn:
		if s.Set == "" {
			return fmt.Errorf("%s: empty set name", s)
		}
		if err := b.daddr(s.Family); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		b.add(&expr.Lookup{SourceRegister: reg, SetName: s.Set})
	case ruleset.SetDAddr:
		op, err := dynsetOp(s.Op)
		if err != nil {
			return err
		}
		if s.Set == "" {
			return fmt.Errorf("%s: empty set name", s)
		}
		if err := b.daddr(s.Family); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		b.add(&expr.Dynset{SrcRegKey: reg, SetName: s.Set, Operation: op})
	case ruleset.SetPort:
		// nft writes the port with an incremental update of the TCP
		// checksum (csum_type inet at offset 16).
		if err := b.needL4(ruleset.TCP); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		off := uint32(dportOffset)
		if s.Source {
			off = sportOffset
		}
		b.add(
			&expr.Immediate{Register: reg, Data: binaryutil.BigEndian.PutUint16(s.Port)},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg, Base: expr.PayloadBaseTransportHeader,
				Offset: off, Len: 2, CsumType: expr.CsumTypeInet, CsumOffset: tcpCsumOffset},
		)
	case ruleset.Redirect:
		b.add(
			&expr.Immediate{Register: reg, Data: binaryutil.BigEndian.PutUint16(s.Port)},
			&expr.Redir{RegisterProtoMin: reg, Flags: natRangeProtoSpecified},
		)
	case ruleset.MarkSet:
		b.add(
			&expr.Immediate{Register: reg, Data: binaryutil.NativeEndian.PutUint32(s.Mark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg},
		)
	case ruleset.Raw:
		return ErrRawStatement
	default:
		return fmt.Errorf("statement %T is not supported", s)
	}
	return nil
}

func (b *builder) ctState(s ruleset.CTState) error {
	if len(s.States) == 0 {
		return errors.New("ct state: no states")
	}
	var mask uint32
	next := 0 // index into ctStates the next name may start from
	for _, name := range s.States {
		i := next
		for i < len(ctStates) && ctStates[i].name != name {
			i++
		}
		if i == len(ctStates) {
			if ctStateBit(name) == 0 {
				return fmt.Errorf("%s: unknown state %q", s, name)
			}
			return fmt.Errorf("%s: state %q repeated or out of nft's order (invalid,established,related,new,untracked)", s, name)
		}
		mask |= ctStates[i].bit
		next = i + 1
	}
	b.add(
		&expr.Ct{Register: reg, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: make([]byte, 4)},
	)
	return nil
}

// ctStateBit returns the bit of a conntrack state name, or 0.
func ctStateBit(name string) uint32 {
	for _, st := range ctStates {
		if st.name == name {
			return st.bit
		}
	}
	return 0
}

func (b *builder) iifname(s ruleset.IIFName) error {
	name, prefix := strings.CutSuffix(s.Name, "*")
	switch {
	case name == "":
		return fmt.Errorf("%s: empty interface name", s)
	case len(name) > maxIfNameLen:
		return fmt.Errorf("%s: interface name longer than %d bytes", s, maxIfNameLen)
	}
	if err := checkText("interface name", s.Name, unix.IFNAMSIZ); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	data := []byte(name)
	if !prefix {
		data = make([]byte, unix.IFNAMSIZ)
		copy(data, name)
	}
	b.add(
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data},
	)
	return nil
}

func (b *builder) l4proto(s ruleset.L4Proto, rest []ruleset.Stmt) error {
	if err := checkProto(s.Proto); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	// nft always emits an explicit meta l4proto, but lists it as the
	// dependency of a later port or flags match of the same protocol.
	for _, next := range rest {
		if dependsOn(next) == s.Proto {
			return fmt.Errorf("%s: nft lists it as part of the later %q; leave it out", s, next)
		}
	}
	b.add(l4protoPair(s.Proto)...)
	b.l4 = s.Proto
	return nil
}

// dependsOn returns the transport protocol whose implicit meta l4proto
// dependency s carries, or 0.
func dependsOn(s ruleset.Stmt) ruleset.Proto {
	switch s := s.(type) {
	case ruleset.DPort:
		return s.Proto
	case ruleset.TCPFlags:
		return ruleset.TCP
	}
	return 0
}

// needL4 emits nft's implicit meta l4proto dependency for p unless the rule
// has matched p already.
func (b *builder) needL4(p ruleset.Proto) error {
	switch b.l4 {
	case p:
		return nil
	case 0:
		b.add(l4protoPair(p)...)
		b.l4 = p
		return nil
	}
	return fmt.Errorf("conflicting protocols %s and %s", b.l4, p)
}

func l4protoPair(p ruleset.Proto) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{byte(p)}},
	}
}

// tcpFlags emits the bytecode nft 1.0.6 sends for the match as
// ruleset.TCPFlags renders it: a payload load, an AND with the mask and a
// comparison; for a mask of all flags ("tcp flags == syn") nft leaves the
// AND out, and so does knockc, so that both read back alike.
func (b *builder) tcpFlags(s ruleset.TCPFlags) error {
	switch {
	case s.Mask == 0:
		return fmt.Errorf("%s: an empty mask matches every packet", s)
	case s.Flags&^s.Mask != 0:
		return fmt.Errorf("%s: flags outside the mask never match", s)
	}
	if err := b.needL4(ruleset.TCP); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	b.add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: tcpFlagsOffset, Len: 1})
	if s.Mask != 0xff {
		b.add(&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{s.Mask}, Xor: []byte{0}})
	}
	b.add(&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{s.Flags}})
	return nil
}

// saddr emits nft's implicit meta nfproto dependency for f, unless the rule
// has matched f already, and the load of the whole source address.
func (b *builder) saddr(f ruleset.Family) error {
	if err := b.needNF(f); err != nil {
		return err
	}
	off, n := saddrField(f)
	b.add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	return nil
}

func (b *builder) needNF(f ruleset.Family) error {
	if f != ruleset.IPv4 && f != ruleset.IPv6 {
		return fmt.Errorf("unknown family %d", f)
	}
	switch b.nf {
	case f:
		return nil
	case 0:
		b.add(
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{nfproto(f)}},
		)
		b.nf = f
		return nil
	}
	return fmt.Errorf("conflicting protocols %s and %s", b.nf, f)
}

func (b *builder) saddrPrefix(s ruleset.SAddrPrefix) error {
	p := s.Prefix
	if !p.IsValid() {
		return fmt.Errorf("ip saddr: invalid prefix %s", p)
	}
	if p != p.Masked() {
		return fmt.Errorf("%s: prefix %s has host bits set", s, p)
	}
	f := ruleset.IPv4
	if p.Addr().Is6() {
		f = ruleset.IPv6
	}
	if err := b.needNF(f); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	off, n := saddrField(f)
	addr := p.Addr().AsSlice()
	bits := p.Bits()
	if bits > 0 && bits%8 == 0 {
		// Whole bytes: nft loads and compares just those.
		n = uint32(bits / 8)
		b.add(
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: addr[:n]},
		)
		return nil
	}
	b.add(
		&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: n, Mask: prefixMask(int(n), bits), Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: addr},
	)
	return nil
}

// prefixMask returns n bytes with the first bits bits set.
func prefixMask(n, bits int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}

// daddr is saddr for the destination address.
func (b *builder) daddr(f ruleset.Family) error {
	if err := b.needNF(f); err != nil {
		return err
	}
	off, n := daddrField(f)
	b.add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	return nil
}

func (b *builder) setSAddr(s ruleset.SetSAddr) error {
	op, err := dynsetOp(s.Op)
	if err != nil {
		return err
	}
	if s.Set == "" {
		return fmt.Errorf("%s: empty set name", s)
	}
	if err := b.saddr(s.Family); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	b.add(&expr.Dynset{SrcRegKey: reg, SetName: s.Set, Operation: op})
	return nil
}

func (b *builder) verdict(s ruleset.Verdict) error {
	kind, ok := verdicts.kernel(s.Kind)
	if !ok {
		return fmt.Errorf("verdict %q: unknown", s.Kind)
	}
	withChain := s.Kind.TakesChain()
	if withChain != (s.Chain != "") {
		if withChain {
			return fmt.Errorf("verdict %q: needs a chain", s)
		}
		return fmt.Errorf("verdict %q: takes no chain", s)
	}
	b.add(&expr.Verdict{Kind: kind, Chain: s.Chain})
	return nil
}

// checkProto reports an error for a transport protocol the model cannot
// render in nft syntax.
func checkProto(p ruleset.Proto) error {
	if p != ruleset.TCP && p != ruleset.UDP {
		return fmt.Errorf("unsupported protocol %d", p)
	}
	return nil
}

// checkText reports an error for text that nft would refuse or print other
// than ruleset.Render's strconv.Quote does.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s longer than %d bytes", what, max)
	}
	if strconv.Quote(s) != `"`+s+`"` {
		return fmt.Errorf("%s %q: holds characters nft prints unquoted", what, s)
	}
	return nil
}
