package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partnergate/partnergate/store"
)

// ErrInvalidEvent means Record refused an event that does not say who did
// what with which outcome; nothing was written.
var ErrInvalidEvent = errors.New("invalid audit event")

// Event is one thing that happened. Record fills in Seq, Time, PrevHash and
// Hash; the rest is the caller's, and is never a secret.
type Event struct {
	// Seq numbers a stream's events 1, 2, 3… without gaps.
	Seq int64 `json:"seq"`
	// Time is when the event was recorded, in UTC to the millisecond. It
	// never decreases along a stream, whatever the clocks of the nodes.
	Time time.Time `json:"time"`
	// PartnerID names the stream: the partner, or "" for the platform.
	PartnerID string `json:"partner_id,omitempty"`
	Actor     Actor  `json:"actor"`
	// Action is what was done, as lowercase words joined by dots, the
	// thing acted on first: "user.create", "signin", "token.revoke".
	Action string `json:"action"`
	// Target is what was acted on; zero when the action has none.
	Target  Target  `json:"target,omitzero"`
	Outcome Outcome `json:"outcome"`
	// Reason says why an action failed or was refused, as a short code
	// such as "bad_password"; never free text from a request.
	Reason    string `json:"reason,omitempty"`
	SourceIP  string `json:"source_ip,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Changes lists the fields a write changed, in the caller's order.
	Changes []Change `json:"changes,omitempty"`
	// PrevHash and Hash chain the event to the one before it (see the
	// package doc). They are read back from the store, not part of the
	// encoding they hash.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// ActorType says what kind of credential acted.
type ActorType string

const (
	// ActorOperator is an operator key; ID is the key's name.
	ActorOperator ActorType = "operator"
	// ActorAdminToken is a partner admin token; ID is its id, Name its name.
	ActorAdminToken ActorType = "admin_token"
	// ActorSCIMToken is a SCIM token; ID is its id, Name its name.
	ActorSCIMToken ActorType = "scim_token"
	// ActorSetupLink is a partner's setup link or the setup session it
	// became; ID is its token id, Name its name.
	ActorSetupLink ActorType = "setup_link"
	// ActorUser is an end user or a partner admin signed in through the
	// portal; ID is the user id, Name the email. A failed sign-in of an
	// unknown email has no ID, only the Name tried.
	ActorUser ActorType = "user"
	// ActorSystem is partnergate itself, such as an expiry; ID names the
	// component.
	ActorSystem ActorType = "system"
)

// Actor is who did it.
type Actor struct {
	Type ActorType `json:"type"`
	ID   string    `json:"id"`
	Name string    `json:"name,omitempty"`
}

// Target is what was acted on: Type is a resource kind such as "user",
// "group" or "partner", ID its id.
type Target struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Outcome says whether the action took effect.
type Outcome string

const (
	// Success: the action took effect.
	Success Outcome = "success"
	// Failure: the action was refused or failed, and changed nothing.
	Failure Outcome = "failure"
)

// Change is one field a write changed. From and To are the old and new
// values as JSON encodes them, nil (and left out) when there was none: a
// field set for the first time has no From. Read back, numbers are
// json.Number, so they keep every digit.
//
// A secret (a password, a token's secret, a key) is recorded as changed
// and nothing more: Redacted is set and From and To stay empty. Record
// enforces that for the fields named in secretFields and for any change
// marked Redacted, whatever values the caller put in.
type Change struct {
	Field    string `json:"field"`
	From     any    `json:"from,omitempty"`
	To       any    `json:"to,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
}

// secretFields are field names whose values never enter the trail, in
// case a caller diffing a whole record forgets to redact one. A dotted
// field is matched by its last word.
var secretFields = map[string]bool{
	"password":       true,
	"password_hash":  true,
	"secret":         true,
	"secret_hash":    true,
	"client_secret":  true,
	"private_key":    true,
	"totp_secret":    true,
	"recovery_codes": true,
	"token":          true,
}

func isSecret(field string) bool {
	return secretFields[strings.ToLower(field[strings.LastIndexByte(field, '.')+1:])]
}

// redact returns changes with every secret's values dropped, leaving the
// caller's slice alone.
func redact(changes []Change) []Change {
	if len(changes) == 0 {
		return nil
	}
	out := make([]Change, len(changes))
	for i, c := range changes {
		if c.Redacted || isSecret(c.Field) {
			c = Change{Field: c.Field, Redacted: true}
		}
		out[i] = c
	}
	return out
}

func (e Event) check() error {
	var problems []string
	if !validAction(e.Action) {
		problems = append(problems, fmt.Sprintf("action %q is not lowercase words joined by dots", e.Action))
	}
	switch e.Actor.Type {
	case ActorOperator, ActorAdminToken, ActorSCIMToken, ActorSetupLink, ActorUser, ActorSystem:
	default:
		problems = append(problems, fmt.Sprintf("unknown actor type %q", e.Actor.Type))
	}
	if e.Actor.ID == "" && e.Actor.Name == "" {
		problems = append(problems, "the actor has neither id nor name")
	}
	if e.Outcome != Success && e.Outcome != Failure {
		problems = append(problems, fmt.Sprintf("unknown outcome %q", e.Outcome))
	}
	if e.Target != (Target{}) && (e.Target.Type == "" || e.Target.ID == "") {
		problems = append(problems, "a target needs both type and id")
	}
	for i, c := range e.Changes {
		if c.Field == "" {
			problems = append(problems, fmt.Sprintf("change %d names no field", i))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, strings.Join(problems, "; "))
	}
	return nil
}

// validAction reports whether s is lowercase words of [a-z0-9_] joined by
// single dots.
func validAction(s string) bool {
	if s == "" {
		return false
	}
	for word := range strings.SplitSeq(s, ".") {
		if word == "" {
			return false
		}
		for _, r := range word {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
				return false
			}
		}
	}
	return true
}

// seal makes e the record that follows head, recorded at now: it assigns
// seq and time, encodes e and chains it. e's Changes must be redacted.
func seal(head store.AuditHead, e Event, now time.Time) (store.AuditRecord, error) {
	e.Seq = head.Seq + 1
	e.Time = now.UTC().Truncate(time.Millisecond)
	// A node whose clock lags another's must not make time run backwards.
	if e.Time.Before(head.Time) {
		e.Time = head.Time
	}
	e.PrevHash, e.Hash = "", ""
	data, err := json.Marshal(e)
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("encode event: %w", err)
	}
	return store.AuditRecord{
		Seq:      e.Seq,
		Time:     e.Time,
		PrevHash: head.Hash,
		Hash:     chainHash(head.Hash, data),
		Data:     data,
	}, nil
}

// chainHash is the hash of a record: see the package doc.
func chainHash(prevHash string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// eventOf decodes a stored record into its event.
func eventOf(rec store.AuditRecord) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(rec.Data))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("decode event %d: %w", rec.Seq, err)
	}
	e.PrevHash, e.Hash = rec.PrevHash, rec.Hash
	return e, nil
}
