package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// API keys of the query API. Only a SHA-256 hash of each key is stored; the
// scope is the API's JSON, opaque here. Revoking inserts a newer version of
// the row (ReplacingMergeTree), so nothing is ever updated in place.

// APIKey is a stored API key.
type APIKey struct {
	ID      string
	Name    string
	Hash    [32]byte
	Scope   string // JSON
	Created time.Time
	Revoked bool
}

// apiKeysCols are the columns of the api_keys table (schema version 2).
const apiKeysCols = `
    id String,
    name String,
    hash String,
    scope String,
    created DateTime64(3, 'UTC'),
    revoked Bool,
    version DateTime64(3, 'UTC')`

// APIKeysDDL creates the api_keys table on a single node, as schema version
// 2 does; Migrate applies it (with the cluster variant where configured).
var APIKeysDDL = schema{}.table("api_keys", apiKeysCols, "ReplacingMergeTree(version)", "ORDER BY id", "")[0]

// EnsureAPIKeys creates the api_keys table when missing (Migrate does too;
// this serves databases whose owner has not migrated yet).
func (db *DB) EnsureAPIKeys(ctx context.Context) error {
	s := schema{cluster: db.opts.Cluster}
	for _, st := range s.table("api_keys", apiKeysCols, s.engine("ReplacingMergeTree", "version"), "ORDER BY id", "cityHash64(id)") {
		if err := db.Exec(ctx, st, nil, nil); err != nil {
			return fmt.Errorf("storage: api_keys: %w", err)
		}
	}
	return nil
}

// PutAPIKey stores a key (a new one, or a new version of one).
func (db *DB) PutAPIKey(ctx context.Context, k APIKey) error {
	err := db.Exec(ctx, `INSERT INTO api_keys (id, name, hash, scope, created, revoked, version)
SELECT {id:String}, {name:String}, {hash:String}, {scope:String}, {created:DateTime64(3)}, {revoked:Bool}, now64(3)`,
		Params{"id": k.ID, "name": k.Name, "hash": hex.EncodeToString(k.Hash[:]), "scope": k.Scope, "created": k.Created, "revoked": k.Revoked}, nil)
	if err != nil {
		return fmt.Errorf("storage: put api key: %w", err)
	}
	return nil
}

const apiKeyCols = "id, name, hash, scope, created, revoked"

func scanAPIKey(rows Rows, k *APIKey) error {
	var h string
	if err := rows.Scan(&k.ID, &k.Name, &h, &k.Scope, &k.Created, &k.Revoked); err != nil {
		return err
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(k.Hash) {
		return fmt.Errorf("storage: api key %s: bad stored hash", k.ID)
	}
	copy(k.Hash[:], b)
	return nil
}

// APIKeyByID returns the newest version of a key, or ErrNotFound.
func (db *DB) APIKeyByID(ctx context.Context, id string) (APIKey, error) {
	rows, err := db.Query(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE id = {id:String} ORDER BY version DESC LIMIT 1",
		Params{"id": id}, nil)
	var qe *QueryError
	if errors.As(err, &qe) && (qe.Code == 60 || strings.Contains(qe.Msg, "UNKNOWN_TABLE")) {
		// No key was ever made here (the table comes with the first one).
		return APIKey{}, fmt.Errorf("%w: api key %s (no api_keys table)", ErrNotFound, id)
	}
	if err != nil {
		return APIKey{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return APIKey{}, err
		}
		return APIKey{}, fmt.Errorf("%w: api key %s", ErrNotFound, id)
	}
	var k APIKey
	if err := scanAPIKey(rows, &k); err != nil {
		return APIKey{}, err
	}
	return k, rows.Close()
}

// APIKeys returns the newest version of every key, oldest first.
func (db *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := db.Query(ctx, "SELECT "+apiKeyCols+" FROM api_keys ORDER BY id, version DESC LIMIT 1 BY id", nil, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		if err := scanAPIKey(rows, &k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// RevokeAPIKey marks a key revoked; ErrNotFound when there is no such key.
func (db *DB) RevokeAPIKey(ctx context.Context, id string) error {
	k, err := db.APIKeyByID(ctx, id)
	if err != nil {
		return err
	}
	k.Revoked = true
	return db.PutAPIKey(ctx, k)
}
