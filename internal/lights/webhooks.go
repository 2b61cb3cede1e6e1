package lights

import (
	"context"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
)

// PutWebhook registers url for owner's state changes with secret, or
// updates the secret of owner's webhook with that url.
func (s *Store) PutWebhook(ctx context.Context, owner, url, secret string, now time.Time) (lightsapi.Webhook, error) {
	id, err := s.newID("hook-")
	if err != nil {
		return lightsapi.Webhook{}, err
	}
	err = s.db.QueryRowContext(ctx, `INSERT INTO webhooks (id, owner, url, secret, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (owner, url) DO UPDATE SET secret = excluded.secret
		RETURNING id`, id, owner, url, secret, now.UnixNano()).Scan(&id)
	if err != nil {
		return lightsapi.Webhook{}, fmt.Errorf("put webhook of %q: %w", owner, err)
	}
	return lightsapi.Webhook{ID: id, URL: url}, nil
}

// Webhooks returns owner's webhooks, without their secrets.
func (s *Store) Webhooks(ctx context.Context, owner string) ([]lightsapi.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, url FROM webhooks WHERE owner = ? ORDER BY created_at, id`, owner)
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %q: %w", owner, err)
	}
	defer rows.Close()
	out := []lightsapi.Webhook{}
	for rows.Next() {
		var w lightsapi.Webhook
		if err := rows.Scan(&w.ID, &w.URL); err != nil {
			return nil, fmt.Errorf("list webhooks of %q: %w", owner, err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook removes owner's webhook id and its pending deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, owner, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete webhook %q: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ? AND owner = ?`, id, owner)
	if err != nil {
		return fmt.Errorf("delete webhook %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete webhook %q: %w", id, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE webhook_id = ?`, id); err != nil {
		return fmt.Errorf("delete deliveries of webhook %q: %w", id, err)
	}
	return tx.Commit()
}

// Delivery is one queued webhook call.
type Delivery struct {
	ID       int64
	URL      string
	Secret   string
	Body     []byte
	Attempts int
}

// DueDeliveries returns up to limit deliveries due at now, oldest first.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, w.url, w.secret, d.body, d.attempts
		FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?`, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.ID, &d.URL, &d.Secret, &d.Body, &d.Attempts); err != nil {
			return nil, fmt.Errorf("due deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// FinishDelivery forgets delivery id: it was delivered or given up.
func (s *Store) FinishDelivery(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM deliveries WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("finish delivery %d: %w", id, err)
	}
	return nil
}

// RetryDelivery records a failed attempt at delivery id, due again at next.
func (s *Store) RetryDelivery(ctx context.Context, id int64, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1, next_at = ? WHERE id = ?`,
		next.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("retry delivery %d: %w", id, err)
	}
	return nil
}
