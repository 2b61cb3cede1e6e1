package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/grantd/grantd/internal/store"
)

// SetScope stores sc, replacing any scope of the same name.
func (s *Store) SetScope(ctx context.Context, sc store.Scope) error {
	_, err := s.exec(ctx, fmt.Sprintf("set scope %q", sc.Name),
		`INSERT INTO scopes (name, description, hidden, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, hidden = excluded.hidden,
			updated_at = excluded.updated_at`,
		sc.Name, sc.Description, sc.Hidden, nanos(sc.UpdatedAt))
	return err
}

// Scopes returns every stored scope, ordered by name byte by byte: sorted
// here, since a PostgreSQL database may collate by locale.
func (s *Store) Scopes(ctx context.Context) ([]store.Scope, error) {
	scopes, err := queryAll(ctx, s, scanScope, `SELECT name, description, hidden, updated_at FROM scopes`)
	if err != nil {
		return nil, fmt.Errorf("scopes: %w", err)
	}
	slices.SortFunc(scopes, func(a, b store.Scope) int { return strings.Compare(a.Name, b.Name) })
	return scopes, nil
}

// DeleteScope removes the scope of that name, or returns store.ErrNotFound.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	return s.execOne(ctx, fmt.Sprintf("delete scope %q", name), `DELETE FROM scopes WHERE name = $1`, name)
}

func scanScope(row rowScanner) (store.Scope, error) {
	var (
		sc      store.Scope
		updated sql.NullInt64
	)
	if err := row.Scan(&sc.Name, &sc.Description, &sc.Hidden, &updated); err != nil {
		return store.Scope{}, err
	}
	sc.UpdatedAt = goTime(updated)
	return sc, nil
}
