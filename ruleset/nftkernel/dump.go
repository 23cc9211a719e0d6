package nftkernel

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// dump renders an expression ParseRule did not recognise in the style of
// `nft --debug=netlink`, e.g. "[payload load 2b @ network header + 4 =>
// reg 1]". Counters leave out their values so a dump does not change while
// packets flow. The text depends on the expression alone.
func dump(e expr.Any) string {
	var s string
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister {
			s = fmt.Sprintf("meta set %s with reg %d", metaKeyName(e.Key), e.Register)
		} else {
			s = fmt.Sprintf("meta load %s => reg %d", metaKeyName(e.Key), e.Register)
		}
	case *expr.Cmp:
		s = fmt.Sprintf("cmp %s reg %d 0x%x", cmpOpName(e.Op), e.Register, e.Data)
	case *expr.Payload:
		if e.OperationType == expr.PayloadWrite {
			s = fmt.Sprintf("payload write reg %d => %db @ %s header + %d csum_type %d csum_off %d csum_flags 0x%x",
				e.SourceRegister, e.Len, payloadBaseName(e.Base), e.Offset, e.CsumType, e.CsumOffset, e.CsumFlags)
		} else {
			s = fmt.Sprintf("payload load %db @ %s header + %d => reg %d", e.Len, payloadBaseName(e.Base), e.Offset, e.DestRegister)
		}
	case *expr.Bitwise:
		s = fmt.Sprintf("bitwise reg %d = ( reg %d & 0x%x ) ^ 0x%x", e.DestRegister, e.SourceRegister, e.Mask, e.Xor)
	case *expr.Ct:
		if e.SourceRegister {
			s = fmt.Sprintf("ct set %s with reg %d", ctKeyName(e.Key), e.Register)
		} else {
			s = fmt.Sprintf("ct load %s => reg %d", ctKeyName(e.Key), e.Register)
		}
		if e.Direction != 0 {
			s += fmt.Sprintf(" dir %d", e.Direction)
		}
	case *expr.Lookup:
		s = fmt.Sprintf("lookup reg %d set %s", e.SourceRegister, e.SetName)
		if e.IsDestRegSet {
			s += fmt.Sprintf(" dreg %d", e.DestRegister)
		}
		if e.Invert {
			s += " 0x1"
		}
	case *expr.Dynset:
		s = fmt.Sprintf("dynset %s reg_key %d set %s", dynsetOpName(e.Operation), e.SrcRegKey, e.SetName)
		if e.SrcRegData != 0 {
			s += fmt.Sprintf(" sreg_data %d", e.SrcRegData)
		}
		if e.Timeout != 0 {
			s += fmt.Sprintf(" timeout %dms", e.Timeout.Milliseconds())
		}
		if e.Invert {
			s += " inv"
		}
		for _, x := range e.Exprs {
			s += " expr " + dump(x)
		}
	case *expr.Immediate:
		s = fmt.Sprintf("immediate reg %d 0x%x", e.Register, e.Data)
	case *expr.Verdict:
		s = "immediate reg 0 " + verdictName(e.Kind)
		if e.Chain != "" {
			s += " -> " + e.Chain
		}
	case *expr.Log:
		s = "log"
		if e.Key&(1<<unix.NFTA_LOG_PREFIX) != 0 {
			s += fmt.Sprintf(" prefix %q", e.Data)
		}
		if e.Key&(1<<unix.NFTA_LOG_GROUP) != 0 {
			s += fmt.Sprintf(" group %d", e.Group)
		}
		if e.Key&(1<<unix.NFTA_LOG_SNAPLEN) != 0 {
			s += fmt.Sprintf(" snaplen %d", e.Snaplen)
		}
		if e.Key&(1<<unix.NFTA_LOG_QTHRESHOLD) != 0 {
			s += fmt.Sprintf(" qthreshold %d", e.QThreshold)
		}
		if e.Key&(1<<unix.NFTA_LOG_LEVEL) != 0 {
			s += fmt.Sprintf(" level %d", e.Level)
		}
		if e.Key&(1<<unix.NFTA_LOG_FLAGS) != 0 {
			s += fmt.Sprintf(" flags %d", e.Flags)
		}
	case *expr.Reject:
		s = fmt.Sprintf("reject type %d code %d", e.Type, e.Code)
	case *expr.Counter:
		s = "counter"
	case nil:
		s = "nil"
	default:
		s = generic(reflect.ValueOf(e))
	}
	return "[" + s + "]"
}

// generic renders any expression by reflection as "name {Field:value ...}",
// following pointers so that no address ends up in the text.
func generic(v reflect.Value) string {
	name := strings.ToLower(strings.TrimPrefix(v.Type().String(), "*expr."))
	return name + " " + value(v)
}

func value(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "nil"
		}
		return value(v.Elem())
	case reflect.Struct:
		var b strings.Builder
		b.WriteString("{")
		for i := range v.NumField() {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%s", v.Type().Field(i).Name, value(v.Field(i)))
		}
		b.WriteString("}")
		return b.String()
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice {
				return fmt.Sprintf("0x%x", v.Bytes())
			}
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return fmt.Sprintf("0x%x", b)
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = value(v.Index(i))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case reflect.Map, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		// fmt sorts map keys; the others carry nothing readable.
		if v.Kind() == reflect.Map {
			return fmt.Sprint(v.Interface())
		}
		return v.Kind().String()
	}
	if v.CanInterface() {
		return fmt.Sprint(v.Interface())
	}
	return fmt.Sprint(v)
}

func metaKeyName(k expr.MetaKey) string {
	names := map[expr.MetaKey]string{
		expr.MetaKeyLEN: "len", expr.MetaKeyPROTOCOL: "protocol", expr.MetaKeyPRIORITY: "priority",
		expr.MetaKeyMARK: "mark", expr.MetaKeyIIF: "iif", expr.MetaKeyOIF: "oif",
		expr.MetaKeyIIFNAME: "iifname", expr.MetaKeyOIFNAME: "oifname", expr.MetaKeyIIFTYPE: "iiftype",
		expr.MetaKeyOIFTYPE: "oiftype", expr.MetaKeySKUID: "skuid", expr.MetaKeySKGID: "skgid",
		expr.MetaKeyNFTRACE: "nftrace", expr.MetaKeyRTCLASSID: "rtclassid", expr.MetaKeySECMARK: "secmark",
		expr.MetaKeyNFPROTO: "nfproto", expr.MetaKeyL4PROTO: "l4proto", expr.MetaKeyPKTTYPE: "pkttype",
		expr.MetaKeyCPU: "cpu", expr.MetaKeyIIFGROUP: "iifgroup", expr.MetaKeyOIFGROUP: "oifgroup",
		expr.MetaKeyCGROUP: "cgroup", expr.MetaKeyPRANDOM: "prandom",
	}
	if n, ok := names[k]; ok {
		return n
	}
	return fmt.Sprintf("key-%d", k)
}

func ctKeyName(k expr.CtKey) string {
	names := map[expr.CtKey]string{
		expr.CtKeySTATE: "state", expr.CtKeyDIRECTION: "direction", expr.CtKeySTATUS: "status",
		expr.CtKeyMARK: "mark", expr.CtKeySECMARK: "secmark", expr.CtKeyEXPIRATION: "expiration",
		expr.CtKeyHELPER: "helper", expr.CtKeyL3PROTOCOL: "l3protocol", expr.CtKeySRC: "src",
		expr.CtKeyDST: "dst", expr.CtKeyPROTOCOL: "protocol", expr.CtKeyPROTOSRC: "proto_src",
		expr.CtKeyPROTODST: "proto_dst", expr.CtKeyLABELS: "label", expr.CtKeyPKTS: "packets",
		expr.CtKeyBYTES: "bytes", expr.CtKeyAVGPKT: "avgpkt", expr.CtKeyZONE: "zone",
		expr.CtKeyEVENTMASK: "event",
	}
	if n, ok := names[k]; ok {
		return n
	}
	return fmt.Sprintf("key-%d", k)
}

func cmpOpName(op expr.CmpOp) string {
	switch op {
	case expr.CmpOpEq:
		return "eq"
	case expr.CmpOpNeq:
		return "neq"
	case expr.CmpOpLt:
		return "lt"
	case expr.CmpOpLte:
		return "lte"
	case expr.CmpOpGt:
		return "gt"
	case expr.CmpOpGte:
		return "gte"
	}
	return fmt.Sprintf("op-%d", op)
}

func payloadBaseName(b expr.PayloadBase) string {
	switch b {
	case expr.PayloadBaseLLHeader:
		return "link"
	case expr.PayloadBaseNetworkHeader:
		return "network"
	case expr.PayloadBaseTransportHeader:
		return "transport"
	}
	return fmt.Sprintf("base-%d", b)
}

func dynsetOpName(op uint32) string {
	if m, ok := setOps.model(op); ok {
		return m.String()
	}
	return fmt.Sprintf("op-%d", op)
}

// kernelVerdicts are the verdicts knockc never writes, named for a dump.
var kernelVerdicts = map[expr.VerdictKind]string{
	expr.VerdictBreak: "break", expr.VerdictContinue: "continue", expr.VerdictStolen: "stolen",
	expr.VerdictQueue: "queue", expr.VerdictRepeat: "repeat", expr.VerdictStop: "stop",
}

func verdictName(k expr.VerdictKind) string {
	if m, ok := verdicts.model(k); ok {
		return string(m)
	}
	if name, ok := kernelVerdicts[k]; ok {
		return name
	}
	return fmt.Sprintf("verdict-%d", k)
}
