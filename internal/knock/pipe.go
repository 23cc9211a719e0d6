package knock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// Pipe copies in to conn and conn to out until conn's peer closes its
// side, as ssh's ProxyCommand expects: when in ends, conn's write side is
// closed (a half-close), and Pipe keeps copying the peer's answer until it
// ends too. It closes conn before returning, and returns early when ctx
// ends. It fails with the first copy error other than a clean end.
func Pipe(ctx context.Context, conn net.Conn, in io.Reader, out io.Writer) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	upErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		upErr <- err
	}()
	_, err := io.Copy(out, conn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("pipe from %s: %w", conn.RemoteAddr(), err)
	}
	select {
	case err := <-upErr:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("pipe to %s: %w", conn.RemoteAddr(), err)
		}
	default: // the peer closed first; stdin may never end (ssh keeps it open)
	}
	return nil
}
