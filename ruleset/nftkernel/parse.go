package nftkernel

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// ParseRule turns a rule read back from the kernel into the model.
// Expressions it does not recognise become ruleset.Raw statements carrying a
// readable dump, so hand edits show as drift instead of failing.
//
// It inverts RuleExprs: a meta nfproto or meta l4proto match directly
// followed by a statement that depends on it is taken as that statement's
// implicit dependency; otherwise an l4proto match of tcp or udp becomes
// ruleset.L4Proto and an nfproto match becomes Raw{"meta nfproto ipv4"}.
// Which registers the expressions use does not matter, only that each one
// reads the register the one before it wrote. The comment comes from the
// comment TLV in userData, if any. ParseRule never fails.
func ParseRule(exprs []expr.Any, userData []byte) *ruleset.Rule {
	var p parser
	var stmts []ruleset.Stmt
	for i := 0; i < len(exprs); {
		s, n := p.next(exprs[i:])
		if n == 0 {
			s, n = ruleset.Raw{Text: dump(exprs[i])}, 1
		}
		stmts = append(stmts, s)
		i += n
	}
	return &ruleset.Rule{Stmts: stmts, Comment: ruleComment(userData)}
}

// ruleComment returns the text of the comment TLV in a rule's userdata, or
// "" if there is none or the TLVs are malformed.
func ruleComment(ud []byte) string {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return ""
		}
		if typ == byte(userdata.TypeComment) {
			return strings.TrimSuffix(string(ud[2:2+n]), "\x00")
		}
		ud = ud[2+n:]
	}
	return ""
}

// parser holds the protocol context of the statements parsed so far: the
// nfproto and l4proto the rule has matched.
type parser struct {
	nf ruleset.Family
	l4 ruleset.Proto
}

// next parses the statement at the start of es and returns it with the
// number of expressions it took, or 0 if es does not start with one.
func (p *parser) next(es []expr.Any) (ruleset.Stmt, int) {
	if f, ok := matchNFProto(es); ok {
		p.nf = f
		if s, n := saddrStmt(es[2:], f); n > 0 {
			return s, n + 2
		}
		if s, n := daddrStmt(es[2:], f); n > 0 {
			return s, n + 2
		}
		return ruleset.NFProto{Family: f}, 2
	}
	if proto, ok := matchL4Proto(es); ok {
		p.l4 = proto
		if s, n := l4Stmt(es[2:], proto); n > 0 {
			return s, n + 2
		}
		if checkProto(proto) == nil {
			return ruleset.L4Proto{Proto: proto}, 2
		}
		name, ok := l4protoNames[byte(proto)]
		if !ok {
			name = fmt.Sprint(byte(proto))
		}
		return ruleset.Raw{Text: "meta l4proto " + name}, 2
	}
	if p.nf != 0 {
		if s, n := saddrStmt(es, p.nf); n > 0 {
			return s, n
		}
		if s, n := daddrStmt(es, p.nf); n > 0 {
			return s, n
		}
	}
	if s, n := immediateStmt(es, p.l4); n > 0 {
		return s, n
	}
	if p.l4 != 0 {
		if s, n := l4Stmt(es, p.l4); n > 0 {
			return s, n
		}
	}
	for _, match := range []func([]expr.Any) (ruleset.Stmt, int){ctState, iifname, logStmt, verdict, queueStmt, payloadStmt} {
		if s, n := match(es); n > 0 {
			return s, n
		}
	}
	return rejectStmt(es, p.l4)
}

// loadMeta returns the register a meta load of key at the start of es
// writes.
func loadMeta(es []expr.Any, key expr.MetaKey) (uint32, bool) {
	if len(es) == 0 {
		return 0, false
	}
	m, ok := es[0].(*expr.Meta)
	if !ok || m.SourceRegister || m.Key != key {
		return 0, false
	}
	return m.Register, true
}

// loadPayload returns a plain payload load from base at the start of es.
func loadPayload(es []expr.Any, base expr.PayloadBase) (*expr.Payload, bool) {
	if len(es) == 0 {
		return nil, false
	}
	pl, ok := es[0].(*expr.Payload)
	if !ok || pl.OperationType != expr.PayloadLoad || pl.Base != base || pl.CsumType != expr.CsumTypeNone {
		return nil, false
	}
	return pl, true
}

// cmpAt returns the data of a comparison with op of register r at es[i].
func cmpAt(es []expr.Any, i int, op expr.CmpOp, r uint32) ([]byte, bool) {
	if i >= len(es) {
		return nil, false
	}
	c, ok := es[i].(*expr.Cmp)
	if !ok || c.Op != op || c.Register != r {
		return nil, false
	}
	return c.Data, true
}

// maskAt returns the mask of a bitwise AND of register r in place, n bytes
// wide and with a zero xor, at es[i].
func maskAt(es []expr.Any, i int, r, n uint32) ([]byte, bool) {
	if i >= len(es) {
		return nil, false
	}
	b, ok := es[i].(*expr.Bitwise)
	if !ok || b.SourceRegister != r || b.DestRegister != r || b.Len != n ||
		len(b.Mask) != int(n) || !bytes.Equal(b.Xor, make([]byte, n)) {
		return nil, false
	}
	return b.Mask, true
}

// matchNFProto matches a meta nfproto comparison with ipv4 or ipv6.
func matchNFProto(es []expr.Any) (ruleset.Family, bool) {
	r, ok := loadMeta(es, expr.MetaKeyNFPROTO)
	if !ok {
		return 0, false
	}
	data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
	if !ok || len(data) != 1 {
		return 0, false
	}
	return familyOfNFProto(data[0])
}

// matchL4Proto matches a meta l4proto comparison with any protocol.
func matchL4Proto(es []expr.Any) (ruleset.Proto, bool) {
	r, ok := loadMeta(es, expr.MetaKeyL4PROTO)
	if !ok {
		return 0, false
	}
	data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
	if !ok || len(data) != 1 || data[0] == 0 {
		return 0, false
	}
	return ruleset.Proto(data[0]), true
}

// saddrStmt matches a statement on the source address of family f:
// SAddrIn, SAddrPrefix or SetSAddr.
func saddrStmt(es []expr.Any, f ruleset.Family) (ruleset.Stmt, int) {
	off, full := saddrField(f)
	pl, ok := loadPayload(es, expr.PayloadBaseNetworkHeader)
	if !ok || pl.Offset != off || pl.Len == 0 || pl.Len > full || len(es) < 2 {
		return nil, 0
	}
	r := pl.DestRegister
	if pl.Len < full {
		// A prefix of whole bytes: only those are loaded.
		data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
		if !ok || len(data) != int(pl.Len) {
			return nil, 0
		}
		return prefixStmt(f, data, int(pl.Len)*8)
	}
	switch e := es[1].(type) {
	case *expr.Lookup:
		if e.SourceRegister != r || e.IsDestRegSet || e.SetName == "" {
			return nil, 0
		}
		return ruleset.SAddrIn{Family: f, Set: e.SetName, Not: e.Invert}, 2
	case *expr.Dynset:
		if e.SrcRegKey != r || e.SrcRegData != 0 || e.Timeout != 0 || e.Invert || len(e.Exprs) != 0 || e.SetName == "" {
			return nil, 0
		}
		op, ok := parseSetOp(e.Operation)
		if !ok {
			return nil, 0
		}
		return ruleset.SetSAddr{Op: op, Set: e.SetName, Family: f}, 2
	case *expr.Cmp:
		data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
		if !ok || len(data) != int(full) {
			return nil, 0
		}
		return prefixStmt(f, data, int(full)*8)
	case *expr.Bitwise:
		mask, ok := maskAt(es, 1, r, full)
		if !ok {
			return nil, 0
		}
		bits, ok := maskBits(mask)
		if !ok {
			return nil, 0
		}
		data, ok := cmpAt(es, 2, expr.CmpOpEq, r)
		if !ok || len(data) != int(full) {
			return nil, 0
		}
		s, n := prefixStmt(f, data, bits)
		if n == 0 {
			return nil, 0
		}
		return s, 3
	}
	return nil, 0
}

// daddrStmt matches a statement on the destination address of family f:
// DAddrIn or SetDAddr.
func daddrStmt(es []expr.Any, f ruleset.Family) (ruleset.Stmt, int) {
	off, full := daddrField(f)
	pl, ok := loadPayload(es, expr.PayloadBaseNetworkHeader)
	if !ok || pl.Offset != off || pl.Len != full || len(es) < 2 {
		return nil, 0
	}
	r := pl.DestRegister
	switch e := es[1].(type) {
	case *expr.Lookup:
		if e.SourceRegister != r || e.IsDestRegSet || e.SetName == "" || e.Invert {
			return nil, 0
		}
		return ruleset.DAddrIn{Family: f, Set: e.SetName}, 2
	case *expr.Dynset:
		if e.SrcRegKey != r || e.SrcRegData != 0 || e.Timeout != 0 || e.Invert || len(e.Exprs) != 0 || e.SetName == "" {
			return nil, 0
		}
		op, ok := parseSetOp(e.Operation)
		if !ok {
			return nil, 0
		}
		return ruleset.SetDAddr{Op: op, Set: e.SetName, Family: f}, 2
	}
	return nil, 0
}

// immediateStmt matches the statements that load a constant and use it:
// tcp sport/dport set (l4 is the rule's l4proto), redirect to :port and
// meta mark set.
func immediateStmt(es []expr.Any, l4 ruleset.Proto) (ruleset.Stmt, int) {
	if len(es) < 2 {
		return nil, 0
	}
	im, ok := es[0].(*expr.Immediate)
	if !ok {
		return nil, 0
	}
	r := im.Register
	switch e := es[1].(type) {
	case *expr.Payload:
		if e.OperationType != expr.PayloadWrite || e.SourceRegister != r || e.Base != expr.PayloadBaseTransportHeader ||
			e.Len != 2 || e.CsumType != expr.CsumTypeInet || e.CsumOffset != tcpCsumOffset || e.CsumFlags != 0 ||
			l4 != ruleset.TCP || (e.Offset != sportOffset && e.Offset != dportOffset) {
			return nil, 0
		}
		port, ok := portData(im.Data)
		if !ok {
			return nil, 0
		}
		return ruleset.SetPort{Source: e.Offset == sportOffset, Port: port}, 2
	case *expr.Redir:
		if e.RegisterProtoMin != r || (e.RegisterProtoMax != 0 && e.RegisterProtoMax != r) || e.Flags != natRangeProtoSpecified {
			return nil, 0
		}
		port, ok := portData(im.Data)
		if !ok {
			return nil, 0
		}
		return ruleset.Redirect{Port: port}, 2
	case *expr.Meta:
		if !e.SourceRegister || e.Key != expr.MetaKeyMARK || e.Register != r || len(im.Data) != 4 {
			return nil, 0
		}
		return ruleset.MarkSet{Mark: binaryutil.NativeEndian.Uint32(im.Data)}, 2
	}
	return nil, 0
}

// portData reads a port from an immediate's data: two bytes in network
// order, padded with zeros to a register's four by some writers.
func portData(b []byte) (uint16, bool) {
	switch {
	case len(b) == 2, len(b) == 4 && b[2] == 0 && b[3] == 0:
		return binaryutil.BigEndian.Uint16(b[:2]), true
	}
	return 0, false
}

// prefixStmt returns the SAddrPrefix of the first bits bits of addr, which
// holds those bits and zeros only; the statement took two expressions.
func prefixStmt(f ruleset.Family, addr []byte, bits int) (ruleset.Stmt, int) {
	_, full := saddrField(f)
	b := make([]byte, full)
	copy(b, addr)
	a, _ := netip.AddrFromSlice(b)
	p := netip.PrefixFrom(a, bits)
	if p != p.Masked() {
		return nil, 0 // compares bits the mask clears: never matches
	}
	return ruleset.SAddrPrefix{Prefix: p}, 2
}

// maskBits returns the length of the prefix mask m, and false if m is not
// one.
func maskBits(m []byte) (int, bool) {
	bits := 0
	for i, b := range m {
		if b == 0xff {
			bits += 8
			continue
		}
		for b&0x80 != 0 {
			bits++
			b <<= 1
		}
		if b != 0 || !allZero(m[i+1:]) {
			return 0, false
		}
		break
	}
	return bits, true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// l4Stmt matches a statement on the transport header of proto: DPort, or
// TCPFlags for tcp.
func l4Stmt(es []expr.Any, proto ruleset.Proto) (ruleset.Stmt, int) {
	pl, ok := loadPayload(es, expr.PayloadBaseTransportHeader)
	if !ok || checkProto(proto) != nil {
		return nil, 0
	}
	r := pl.DestRegister
	switch {
	case pl.Offset == dportOffset && pl.Len == 2:
		data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
		if !ok || len(data) != 2 {
			return nil, 0
		}
		return ruleset.DPort{Proto: proto, Port: binaryutil.BigEndian.Uint16(data)}, 2
	case pl.Offset == sportOffset && pl.Len == 2:
		data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
		if !ok || len(data) != 2 {
			return nil, 0
		}
		return ruleset.SPort{Proto: proto, Port: binaryutil.BigEndian.Uint16(data)}, 2
	case proto == ruleset.TCP && pl.Offset == tcpFlagsOffset && pl.Len == 1:
		// "tcp flags == syn" has no AND: nft leaves it out for a mask of
		// all flags, and lists an AND with 0xff the same way.
		if data, ok := cmpAt(es, 1, expr.CmpOpEq, r); ok && len(data) == 1 {
			return ruleset.TCPFlags{Flags: data[0], Mask: 0xff}, 2
		}
		mask, ok := maskAt(es, 1, r, 1)
		if !ok {
			return nil, 0
		}
		data, ok := cmpAt(es, 2, expr.CmpOpEq, r)
		if !ok || len(data) != 1 {
			return nil, 0
		}
		return ruleset.TCPFlags{Flags: data[0], Mask: mask[0]}, 3
	}
	return nil, 0
}

// ctState matches ct state as nft writes it: a nonzero AND with the state bits.
func ctState(es []expr.Any) (ruleset.Stmt, int) {
	if len(es) == 0 {
		return nil, 0
	}
	ct, ok := es[0].(*expr.Ct)
	if !ok || ct.SourceRegister || ct.Key != expr.CtKeySTATE || ct.Direction != 0 {
		return nil, 0
	}
	r := ct.Register
	mask, ok := maskAt(es, 1, r, 4)
	if !ok {
		return nil, 0
	}
	data, ok := cmpAt(es, 2, expr.CmpOpNeq, r)
	if !ok || !bytes.Equal(data, make([]byte, 4)) {
		return nil, 0
	}
	bits := binaryutil.NativeEndian.Uint32(mask)
	var states []string
	for _, st := range ctStates {
		if bits&st.bit != 0 {
			states = append(states, st.name)
			bits &^= st.bit
		}
	}
	if bits != 0 || states == nil {
		return nil, 0
	}
	return ruleset.CTState{States: states}, 3
}

// iifname matches an exact input interface name (NUL-padded to IFNAMSIZ)
// or a name prefix (just the prefix bytes).
func iifname(es []expr.Any) (ruleset.Stmt, int) {
	r, ok := loadMeta(es, expr.MetaKeyIIFNAME)
	if !ok {
		return nil, 0
	}
	data, ok := cmpAt(es, 1, expr.CmpOpEq, r)
	if !ok || len(data) == 0 || len(data) > unix.IFNAMSIZ {
		return nil, 0
	}
	nul := bytes.IndexByte(data, 0)
	switch {
	case len(data) < unix.IFNAMSIZ && nul < 0:
		return ruleset.IIFName{Name: string(data) + "*"}, 2
	case len(data) == unix.IFNAMSIZ && nul > 0 && allZero(data[nul:]) && data[nul-1] != '*':
		return ruleset.IIFName{Name: string(data[:nul])}, 2
	}
	return nil, 0
}

// logStmt matches a log to an NFLOG group with a prefix and nothing else.
func logStmt(es []expr.Any) (ruleset.Stmt, int) {
	if len(es) == 0 {
		return nil, 0
	}
	l, ok := es[0].(*expr.Log)
	if !ok || l.Key != 1<<unix.NFTA_LOG_GROUP|1<<unix.NFTA_LOG_PREFIX ||
		l.Level != 0 || l.Flags != 0 || l.Snaplen != 0 || l.QThreshold != 0 {
		return nil, 0
	}
	return ruleset.Log{Prefix: string(l.Data), Group: l.Group}, 1
}

// verdict matches accept, drop, return, jump and goto.
func verdict(es []expr.Any) (ruleset.Stmt, int) {
	if len(es) == 0 {
		return nil, 0
	}
	v, ok := es[0].(*expr.Verdict)
	if !ok {
		return nil, 0
	}
	kind, ok := verdicts.model(v.Kind)
	if !ok || kind.TakesChain() != (v.Chain != "") {
		return nil, 0
	}
	return ruleset.Verdict{Kind: kind, Chain: v.Chain}, 1
}

// rejectStmt matches reject with icmpx port-unreachable, and reject with
// tcp reset when the rule has matched tcp (l4 is the rule's l4proto).
func rejectStmt(es []expr.Any, l4 ruleset.Proto) (ruleset.Stmt, int) {
	if len(es) == 0 {
		return nil, 0
	}
	rj, ok := es[0].(*expr.Reject)
	if !ok {
		return nil, 0
	}
	switch {
	case rj.Type == unix.NFT_REJECT_ICMPX_UNREACH && rj.Code == unix.NFT_REJECT_ICMPX_PORT_UNREACH:
		return ruleset.Reject{}, 1
	case rj.Type == unix.NFT_REJECT_TCP_RST && rj.Code == 0 && l4 == ruleset.TCP:
		return ruleset.Reject{TCPReset: true}, 1
	}
	return nil, 0
}

// ParseSet turns a set read back from the kernel into the model: family from
// the key type (or, for a 16-byte integer key, a token set: see
// isTokenSet), timeout, size and comment; Elements stay empty. A set knockc
// could not have written (a key that is not an IPv4 or IPv6 address, or
// flags other than dynamic and timeout) comes back with Family 0, so it never
// has the same definition as a wanted set and a plan recreates it.
func ParseSet(s *nftables.Set) *ruleset.Set {
	out := &ruleset.Set{
		Name:    s.Name,
		Family:  setFamily(s),
		Timeout: s.Timeout,
		Size:    s.Size,
	}
	if isTokenSet(s) {
		f := ruleset.TokenField
		out.Typeof = &f
	}
	return out
}

func setFamily(s *nftables.Set) ruleset.Family {
	if !s.Dynamic || !s.HasTimeout || s.Anonymous || s.Constant || s.Interval || s.IsMap || s.Concatenation {
		return 0
	}
	f, _ := familyOfKey(s.KeyType)
	return f
}

// ParseChain turns a chain read back from the kernel into the model, without
// rules: a base chain gets a Hook with its type, hook name ("hook-N" for a
// number nft has no inet name for), priority and policy ("accept" if the
// kernel sent none). It never fails.
func ParseChain(c *nftables.Chain) *ruleset.Chain {
	ch := &ruleset.Chain{Name: c.Name}
	if c.Hooknum == nil {
		return ch
	}
	h := &ruleset.Hook{Type: ruleset.ChainType(c.Type), Policy: ruleset.PolicyAccept}
	if t, ok := chainTypes.model(c.Type); ok {
		h.Type = t
	}
	if hp, ok := hooks.model(*c.Hooknum); ok {
		h.Hook = hp
	} else {
		h.Hook = ruleset.HookPoint(fmt.Sprintf("hook-%d", *c.Hooknum))
	}
	if c.Priority != nil {
		h.Priority = int(*c.Priority)
	}
	if c.Policy != nil {
		if p, ok := policies.model(*c.Policy); ok {
			h.Policy = p
		} else {
			h.Policy = ruleset.Policy(fmt.Sprintf("policy-%d", *c.Policy))
		}
	}
	ch.Hook = h
	return ch
}

// ParseElement turns an element of a set of family f read back from the
// kernel into the model: its address and the time it has left. Addr is the
// zero netip.Addr when the key is not as long as an address of f.
func ParseElement(f ruleset.Family, e nftables.SetElement) ruleset.Element {
	var a netip.Addr
	switch {
	case f == ruleset.IPv6 && len(e.Key) == 16:
		a = netip.AddrFrom16([16]byte(e.Key))
	case f != ruleset.IPv6 && len(e.Key) == 4:
		a = netip.AddrFrom4([4]byte(e.Key))
	}
	return ruleset.Element{Addr: a, Expires: e.Expires}
}
