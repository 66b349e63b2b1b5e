package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson/storage"
	"golang.org/x/time/rate"
)

// An API key is "kls_" + a 12-hex-digit public id + "_" + 43 characters of
// base64url secret (256 random bits). Only the SHA-256 of the whole key is
// stored; the key itself is shown once, at creation.

const keyPrefix = "kls_"

// Key is a stored API key, without its secret.
type Key struct {
	ID      string
	Name    string
	Hash    [sha256.Size]byte
	Scope   Scope
	Created time.Time
	Revoked bool
}

// KeyStore finds stored keys by their public id; *storage.DB implements it.
type KeyStore interface {
	// APIKeyByID returns the key with the id, or an error wrapping
	// storage.ErrNotFound.
	APIKeyByID(ctx context.Context, id string) (storage.APIKey, error)
}

// KeyLister lists the stored keys (the newest version of each);
// *storage.DB implements it. A KeyStore that implements it lets the server
// build the views of keys with a delay before their first request: at
// start, and as keys appear (see Server.Run).
type KeyLister interface {
	APIKeys(ctx context.Context) ([]storage.APIKey, error)
}

// KeyFromStorage decodes a stored key.
func KeyFromStorage(sk storage.APIKey) (Key, error) {
	k := Key{ID: sk.ID, Name: sk.Name, Hash: sk.Hash, Created: sk.Created, Revoked: sk.Revoked}
	if err := json.Unmarshal([]byte(sk.Scope), &k.Scope); err != nil {
		return Key{}, fmt.Errorf("api: key %s: %w", sk.ID, err)
	}
	return k, nil
}

// Storage encodes the key for storage.
func (k Key) Storage() (storage.APIKey, error) {
	b, err := json.Marshal(k.Scope)
	if err != nil {
		return storage.APIKey{}, err
	}
	return storage.APIKey{ID: k.ID, Name: k.Name, Hash: k.Hash, Scope: string(b), Created: k.Created, Revoked: k.Revoked}, nil
}

// NewKey returns a new random key and its stored form.
func NewKey(name string, scope Scope, now time.Time) (secret string, k Key, err error) {
	if err := scope.Validate(); err != nil {
		return "", Key{}, err
	}
	var idb [6]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", Key{}, err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", Key{}, err
	}
	id := hex.EncodeToString(idb[:])
	secret = keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(sec[:])
	return secret, Key{ID: id, Name: name, Hash: HashKey(secret), Scope: scope, Created: now.UTC()}, nil
}

// HashKey returns the stored hash of a key.
func HashKey(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// ParseKeyID returns the public id of a key, checking its shape.
func ParseKeyID(secret string) (string, error) {
	rest, ok := strings.CutPrefix(secret, keyPrefix)
	if !ok || len(rest) != 12+1+43 || rest[12] != '_' {
		return "", ErrInvalidKey
	}
	id := rest[:12]
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", ErrInvalidKey
	}
	if _, err := base64.RawURLEncoding.DecodeString(rest[13:]); err != nil {
		return "", ErrInvalidKey
	}
	return id, nil
}

// keyCache authenticates keys, remembering stored keys for a while so that
// a request costs no storage round trip; revocation takes effect within ttl.
type keyCache struct {
	store KeyStore
	ttl   time.Duration
	now   func() time.Time

	mu sync.Mutex
	m  map[string]cachedKey

	lookups *rate.Limiter // storage lookups; nil: unbounded
	onFetch func(Key)     // called with each key read from storage; may be nil
}

type cachedKey struct {
	key     Key
	found   bool
	fetched time.Time
}

func newKeyCache(store KeyStore, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{store: store, ttl: ttl, now: now, m: map[string]cachedKey{}}
}

// known returns the cached key of a bearer secret that proved to be a
// stored key (whether its entry is fresh or revoked): a check that costs
// no lookup.
func (c *keyCache) known(secret string) (Key, bool) {
	id, err := ParseKeyID(secret)
	if err != nil {
		return Key{}, false
	}
	c.mu.Lock()
	ck, ok := c.m[id]
	c.mu.Unlock()
	if !ok || !ck.found {
		return Key{}, false
	}
	h := HashKey(secret)
	if subtle.ConstantTimeCompare(h[:], ck.key.Hash[:]) != 1 {
		return Key{}, false
	}
	return ck.key, true
}

// authenticate returns the key for a bearer secret, or ErrUnauthorized.
func (c *keyCache) authenticate(ctx context.Context, secret string) (Key, error) {
	id, err := ParseKeyID(secret)
	if err != nil {
		return Key{}, errorf(ErrUnauthorized, "malformed API key")
	}
	now := c.now()
	c.mu.Lock()
	ck, ok := c.m[id]
	c.mu.Unlock()
	if !ok || now.Sub(ck.fetched) > c.ttl {
		if c.lookups != nil && !c.lookups.Allow() {
			return Key{}, errorf(ErrRateLimited, "too many API key checks on this server; retry in a second")
		}
		sk, err := c.store.APIKeyByID(ctx, id)
		var k Key
		if err == nil {
			k, err = KeyFromStorage(sk)
		}
		switch {
		case err == nil:
			ck = cachedKey{key: k, found: true, fetched: now}
			if c.onFetch != nil && !k.Revoked {
				c.onFetch(k)
			}
		case errors.Is(err, storage.ErrNotFound):
			ck = cachedKey{fetched: now}
		default:
			return Key{}, fmt.Errorf("api: key lookup: %w", err)
		}
		c.mu.Lock()
		if len(c.m) > 100000 {
			clear(c.m)
		}
		c.m[id] = ck
		c.mu.Unlock()
	}
	h := HashKey(secret)
	if !ck.found || subtle.ConstantTimeCompare(h[:], ck.key.Hash[:]) != 1 {
		return Key{}, errorf(ErrUnauthorized, "unknown API key")
	}
	if ck.key.Revoked {
		return Key{}, errorf(ErrUnauthorized, "revoked API key")
	}
	return ck.key, nil
}
