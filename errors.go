package simpleserver

import (
	"errors"
	"fmt"
)

var (
	// ErrServerClosed is returned by Serve and ListenAndServe after
	// Shutdown or Close, and is the close reason of connections the server
	// closed because it was stopping.
	ErrServerClosed = errors.New("simpleserver: server closed")

	// ErrConnClosed is returned by a Conn's methods once Close was called
	// or the connection has closed for any other reason.
	ErrConnClosed = errors.New("simpleserver: connection closed")

	// ErrDetached is the close reason of a connection whose socket was
	// handed over with Conn.Detach.
	ErrDetached = errors.New("simpleserver: connection detached")

	// ErrHandlerPanic is the close reason (wrapped, with the panic value)
	// of a connection whose handler panicked.
	ErrHandlerPanic = errors.New("simpleserver: handler panicked")
)

// ProtocolError is the close reason of a connection whose inbound stream
// the Codec rejected (for example codec.ErrFrameTooLarge).
type ProtocolError struct {
	Err error
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("simpleserver: protocol error: %v", e.Err) }
func (e *ProtocolError) Unwrap() error { return e.Err }

var (
	// ErrIdleTimeout is the close reason of a connection that sent and
	// received nothing for Server.IdleTimeout.
	ErrIdleTimeout = errors.New("simpleserver: idle timeout")

	// ErrReadTimeout is the close reason of a connection that began a
	// message and did not complete it within Server.ReadTimeout
	// (slowloris).
	ErrReadTimeout = errors.New("simpleserver: read timeout")

	// ErrWriteTimeout is the close reason of a connection whose pending
	// output made no progress for Server.WriteTimeout.
	ErrWriteTimeout = errors.New("simpleserver: write timeout")

	// ErrSlowConsumer is the close reason of a connection whose queued
	// output would exceed Server.MaxPendingBytes, and the error of the
	// write that found it so.
	ErrSlowConsumer = errors.New("simpleserver: slow consumer: pending output over limit")
)
