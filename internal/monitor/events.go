package monitor

import (
	"context"
	"log/slog"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// Events turns the kernel's NFLOG events into door events, dropping (and
// logging) the ones whose prefix is not knockc's. The output channel
// closes when in does or ctx ends.
func Events(ctx context.Context, in <-chan nftkernel.LogEvent, log *slog.Logger) <-chan Event {
	out := make(chan Event, cap(in))
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case le, ok := <-in:
				if !ok {
					return
				}
				door, seq, ok := compiler.ParseLogPrefix(le.Prefix)
				key := ""
				if !ok {
					if door, key, ok = compiler.ParseTokenLogPrefix(le.Prefix); ok {
						seq = compiler.Open
					}
				}
				if !ok {
					log.Debug("nflog event that is not knockc's", "prefix", le.Prefix)
					continue
				}
				select {
				case out <- Event{Door: door, Seq: seq, Key: key, Addr: le.Addr.Unmap(), At: le.At}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
