package nftkernel

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/knockc/knockc/ruleset"
)

// Statements of token rules (see docs/tokens.md): an explicit family
// match, a raw payload lookup and a dynset keyed by the payload.

// nfproto emits an explicit meta nfproto match. nft lists one that is
// directly followed by an address statement as that statement's implicit
// dependency, so such a rule is refused: it would not list as rendered.
func (b *builder) nfproto(s ruleset.NFProto, rest []ruleset.Stmt) error {
	if b.nf != 0 {
		return fmt.Errorf("%s: the rule has matched a family already", s)
	}
	if len(rest) > 0 {
		switch rest[0].(type) {
		case ruleset.SAddrIn, ruleset.SAddrPrefix, ruleset.SetSAddr:
			return fmt.Errorf("%s: nft lists it as part of the following %q; leave it out", s, rest[0])
		}
	}
	return b.needNF(s.Family)
}

// payloadLoad emits the load of a raw transport-header field. Only whole
// bytes of the transport header are supported, and only after the rule has
// matched udp or tcp, so the field is read from a known header.
func (b *builder) payloadLoad(p ruleset.Payload) error {
	switch {
	case p.Base != "th":
		return fmt.Errorf("%s: only @th fields are supported", p)
	case p.Offset%8 != 0 || p.Len%8 != 0 || p.Len == 0 || p.Len > 128:
		return fmt.Errorf("%s: offset and length must be whole bytes, at most 16", p)
	case b.l4 == 0:
		return fmt.Errorf("%s: needs a udp or tcp match earlier in the rule", p)
	}
	b.add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: p.Offset / 8, Len: p.Len / 8})
	return nil
}

func (b *builder) payloadIn(s ruleset.PayloadIn) error {
	if s.Set == "" {
		return fmt.Errorf("%s: empty set name", s)
	}
	if err := b.payloadLoad(s.Field); err != nil {
		return err
	}
	b.add(&expr.Lookup{SourceRegister: reg, SetName: s.Set})
	return nil
}

func (b *builder) setPayload(s ruleset.SetPayload) error {
	op, err := dynsetOp(s.Op)
	if err != nil {
		return err
	}
	if s.Set == "" {
		return fmt.Errorf("%s: empty set name", s)
	}
	if err := b.payloadLoad(s.Field); err != nil {
		return err
	}
	b.add(&expr.Dynset{SrcRegKey: reg, SetName: s.Set, Operation: op})
	return nil
}

// dynsetOp returns the kernel's dynset operation for op.
func dynsetOp(op ruleset.SetOp) (uint32, error) {
	if k, ok := setOps.kernel(op); ok {
		return k, nil
	}
	return 0, fmt.Errorf("set operation %d: unknown", op)
}

// parseSetOp is the inverse of dynsetOp.
func parseSetOp(op uint32) (ruleset.SetOp, bool) { return setOps.model(op) }

// payloadStmt matches a lookup or dynset keyed by a raw transport-header
// field of whole bytes: PayloadIn or SetPayload.
func payloadStmt(es []expr.Any) (ruleset.Stmt, int) {
	pl, ok := loadPayload(es, expr.PayloadBaseTransportHeader)
	if !ok || len(es) < 2 || pl.Len == 0 || pl.Len > 16 {
		return nil, 0
	}
	field := ruleset.Payload{Base: "th", Offset: pl.Offset * 8, Len: pl.Len * 8}
	switch e := es[1].(type) {
	case *expr.Lookup:
		if e.SourceRegister != pl.DestRegister || e.IsDestRegSet || e.Invert || e.SetName == "" {
			return nil, 0
		}
		return ruleset.PayloadIn{Field: field, Set: e.SetName}, 2
	case *expr.Dynset:
		if e.SrcRegKey != pl.DestRegister || e.SrcRegData != 0 || e.Timeout != 0 || e.Invert || len(e.Exprs) != 0 || e.SetName == "" {
			return nil, 0
		}
		op, ok := parseSetOp(e.Operation)
		if !ok {
			return nil, 0
		}
		return ruleset.SetPayload{Op: op, Set: e.SetName, Field: field}, 2
	}
	return nil, 0
}
