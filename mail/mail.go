package mail

import (
	"context"
	"errors"
)

// ErrInvalidMessage marks a Message refused before anything was sent: a
// bad or missing recipient, a CR or LF in a header, or a missing body.
// Callers can show it to whoever typed the address; a retry cannot help.
var ErrInvalidMessage = errors.New("invalid message")

// ErrAuthFailed marks a server rejecting the configured credentials.
var ErrAuthFailed = errors.New("smtp authentication failed")

// Message is one mail to one recipient.
type Message struct {
	// To is a single address, optionally with a display name.
	To      string
	Subject string
	// Text is the plain-text body; it is required so that every message
	// reads in any client.
	Text string
	// HTML, when set, is sent as an alternative to Text.
	HTML string
}

// Sender delivers messages. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}
