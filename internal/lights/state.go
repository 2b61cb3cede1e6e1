package lights

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
)

// ErrBadCommand reports a command lightsd does not understand.
var ErrBadCommand = errors.New("bad command")

// Next returns b after cmd: on, off, toggle, or brightness 0–100 (which
// leaves on/off alone).
func Next(b lightsapi.Bulb, cmd lightsapi.Command) (lightsapi.Bulb, error) {
	if (cmd.Command == lightsapi.CommandBrightness) != (cmd.Brightness != nil) {
		return b, fmt.Errorf("%w: brightness goes with the brightness command, and only with it", ErrBadCommand)
	}
	switch cmd.Command {
	case lightsapi.CommandOn:
		b.On = true
	case lightsapi.CommandOff:
		b.On = false
	case lightsapi.CommandToggle:
		b.On = !b.On
	case lightsapi.CommandBrightness:
		if *cmd.Brightness < 0 || *cmd.Brightness > 100 {
			return b, fmt.Errorf("%w: brightness must be 0-100", ErrBadCommand)
		}
		b.Brightness = *cmd.Brightness
	default:
		return b, fmt.Errorf("%w: use on, off, toggle or brightness", ErrBadCommand)
	}
	return b, nil
}

// Apply runs cmd on bulb id at now and returns the new state. owner, when
// not empty, must own the bulb (ErrNotFound otherwise); the operator's
// `lightsd set` passes "". In the same transaction it queues one delivery
// of a lightsapi.Event per webhook of the owner, due at once.
func (s *Store) Apply(ctx context.Context, owner, id string, cmd lightsapi.Command, now time.Time) (lightsapi.Bulb, error) {
	if !validID(id) {
		return lightsapi.Bulb{}, fmt.Errorf("apply to bulb %q: %w", id, ErrNotFound)
	}
	eventID, err := s.newID("evt-")
	if err != nil {
		return lightsapi.Bulb{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return lightsapi.Bulb{}, fmt.Errorf("apply to bulb %q: %w", id, err)
	}
	defer tx.Rollback()
	b, bulbOwner, err := scanBulb(tx.QueryRowContext(ctx, `SELECT `+bulbColumns+` FROM bulbs WHERE id = ?`, id))
	if err == nil && owner != "" && bulbOwner != owner {
		err = ErrNotFound // another owner's bulb is answered as a missing one
	}
	if err != nil {
		return lightsapi.Bulb{}, fmt.Errorf("apply to bulb %q: %w", id, err)
	}
	if b, err = Next(b, cmd); err != nil {
		return lightsapi.Bulb{}, err
	}
	b.UpdatedAt = now.UTC()
	_, err = tx.ExecContext(ctx, `UPDATE bulbs SET is_on = ?, brightness = ?, updated_at = ? WHERE id = ?`,
		b.On, b.Brightness, now.UnixNano(), id)
	if err != nil {
		return lightsapi.Bulb{}, fmt.Errorf("update bulb %q: %w", id, err)
	}
	if err := queueDeliveries(ctx, tx, lightsapi.Event{ID: eventID, Type: lightsapi.EventBulbState,
		Owner: bulbOwner, Bulb: b, At: now.UTC()}, now); err != nil {
		return lightsapi.Bulb{}, err
	}
	if err := tx.Commit(); err != nil {
		return lightsapi.Bulb{}, fmt.Errorf("apply to bulb %q: commit: %w", id, err)
	}
	return b, nil
}

// queueDeliveries queues ev for every webhook of its owner.
func queueDeliveries(ctx context.Context, tx *sql.Tx, ev lightsapi.Event, now time.Time) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO deliveries (webhook_id, body, next_at)
		SELECT id, ?, ? FROM webhooks WHERE owner = ?`, body, now.UnixNano(), ev.Owner)
	if err != nil {
		return fmt.Errorf("queue deliveries of %s: %w", ev.ID, err)
	}
	return nil
}
