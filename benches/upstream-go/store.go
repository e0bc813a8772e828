package main

// A model of the upstream runqy server's vault store (its Go `vaults`
// package), kept to the same shape operation by operation so that the
// comparison measures the design, not a strawman:
//
//   - AES-256-GCM through crypto/aes + cipher.NewGCM, both created on every
//     call, a 12-byte nonce from crypto/rand prepended (nonce ‖ ct ‖ tag, no
//     associated data), behind the encryptor's RWMutex read lock;
//   - database/sql on SQLite through modernc.org/sqlite, the upstream tables;
//   - every lookup by vault name is its own SELECT, then a SELECT of entries;
//   - set = select vault, encrypt, select entry, insert or update, then a
//     separate UPDATE of the vault's updated_at, no transaction;
//   - show = select vault, then list entries (which selects the vault again),
//     decrypt each, mask secrets by bytes.
//
// Upstream scans rows with sqlx (reflection); this model scans by hand with
// database/sql, which is slightly faster, so any error here favours upstream.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	_ "modernc.org/sqlite"
)

var (
	errVaultsDisabled   = errors.New("vaults not enabled: RUNQY_VAULT_MASTER_KEY not set")
	errDecryptionFailed = errors.New("decryption failed: ciphertext invalid or corrupted")
)

// Encryptor is upstream's (app/vaults/encryption.go), call for call: behind
// the RWMutex read lock, the enabled check, then aes.NewCipher, cipher.NewGCM,
// a nonce from crypto/rand and Seal/Open. Nothing else is done per call.
type Encryptor struct {
	key     []byte
	enabled bool
	mu      sync.RWMutex
}

func newEncryptor(key []byte) *Encryptor { return &Encryptor{key: key, enabled: true} }

func (e *Encryptor) Encrypt(plaintext []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.enabled {
		return nil, errVaultsDisabled
	}
	block, err := aes.NewCipher(e.key)
	if err != nil {
		return nil, fmt.Errorf("failed to create cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("failed to create GCM: %w", err)
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("failed to generate nonce: %w", err)
	}
	return gcm.Seal(nonce, nonce, plaintext, nil), nil
}

func (e *Encryptor) Decrypt(ciphertext []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.enabled {
		return nil, errVaultsDisabled
	}
	block, err := aes.NewCipher(e.key)
	if err != nil {
		return nil, fmt.Errorf("failed to create cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("failed to create GCM: %w", err)
	}
	nonceSize := gcm.NonceSize()
	if len(ciphertext) < nonceSize {
		return nil, errDecryptionFailed
	}
	nonce, ciphertext := ciphertext[:nonceSize], ciphertext[nonceSize:]
	plaintext, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, errDecryptionFailed
	}
	return plaintext, nil
}

func (e *Encryptor) EncryptString(s string) ([]byte, error) { return e.Encrypt([]byte(s)) }

func (e *Encryptor) DecryptString(b []byte) (string, error) {
	pt, err := e.Decrypt(b)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// MaskSecret is upstream's byte-based mask (it can cut a UTF-8 character).
func MaskSecret(v string) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) <= 4 {
		return "****"
	}
	return v[:2] + "****" + v[len(v)-2:]
}

// The runqy server's tables and indexes, verbatim (SPEC §2).
const schema = `
CREATE TABLE IF NOT EXISTS vaults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    description TEXT DEFAULT '',
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_vaults_name ON vaults(name);
CREATE TABLE IF NOT EXISTS vault_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    is_secret INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(vault_id, key)
);
CREATE INDEX IF NOT EXISTS idx_vault_entries_vault_id ON vault_entries(vault_id);
CREATE INDEX IF NOT EXISTS idx_vault_entries_key ON vault_entries(vault_id, key);
`

type Vault struct {
	ID          int64
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type VaultEntry struct {
	ID        int64
	VaultID   int64
	Key       string
	Value     []byte
	IsSecret  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

type VaultEntryView struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	IsSecret  bool   `json:"is_secret"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type VaultDetail struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Entries     []VaultEntryView `json:"entries"`
	CreatedAt   string           `json:"created_at"`
	UpdatedAt   string           `json:"updated_at"`
}

type VaultData map[string]string

type Store struct {
	db  *sql.DB
	enc *Encryptor
}

// OpenStore opens (creating) a store. Upstream opens SQLite with the driver's
// defaults plus `PRAGMA foreign_keys = ON` (rollback journal, synchronous
// FULL). The model uses WAL + synchronous=FULL instead, the durability
// runqy-vault gives (a returned set is on disk), set through the DSN so that
// every pooled connection gets it. journal "delete" reproduces upstream's
// rollback journal.
func OpenStore(path string, key []byte, journal string) (*Store, error) {
	dsn := fmt.Sprintf("file:%s?_pragma=journal_mode(%s)&_pragma=synchronous(FULL)"+
		"&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)", path, journal)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, enc: newEncryptor(key)}, nil
}

func (s *Store) Close() error { return s.db.Close() }

func (s *Store) CreateVault(ctx context.Context, name, description string) error {
	now := time.Now()
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO vaults (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		name, description, now, now)
	return err
}

func (s *Store) GetVault(ctx context.Context, name string) (*Vault, error) {
	var v Vault
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, description, created_at, updated_at FROM vaults WHERE name = ?`, name).
		Scan(&v.ID, &v.Name, &v.Description, &v.CreatedAt, &v.UpdatedAt)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to get vault: %w", err)
	}
	return &v, nil
}

func (s *Store) getEntry(ctx context.Context, vaultID int64, key string) (*VaultEntry, error) {
	var e VaultEntry
	err := s.db.QueryRowContext(ctx,
		`SELECT id, vault_id, key, value, is_secret, created_at, updated_at
		 FROM vault_entries WHERE vault_id = ? AND key = ?`, vaultID, key).
		Scan(&e.ID, &e.VaultID, &e.Key, &e.Value, &e.IsSecret, &e.CreatedAt, &e.UpdatedAt)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to get entry: %w", err)
	}
	return &e, nil
}

func (s *Store) selectEntries(ctx context.Context, query string, vaultID int64) ([]VaultEntry, error) {
	rows, err := s.db.QueryContext(ctx, query, vaultID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VaultEntry
	for rows.Next() {
		var e VaultEntry
		if err := rows.Scan(&e.ID, &e.VaultID, &e.Key, &e.Value, &e.IsSecret, &e.CreatedAt, &e.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetEntry is upstream's check-then-insert-or-update, then a separate vault
// updated_at bump, no transaction (so two first sets of a key can race).
func (s *Store) SetEntry(ctx context.Context, vaultName, key, value string, isSecret bool) error {
	vault, err := s.GetVault(ctx, vaultName)
	if err != nil {
		return err
	}
	if vault == nil {
		return fmt.Errorf("vault '%s' not found", vaultName)
	}
	encrypted, err := s.enc.EncryptString(value)
	if err != nil {
		return fmt.Errorf("failed to encrypt value: %w", err)
	}
	now := time.Now()
	existing, err := s.getEntry(ctx, vault.ID, key)
	if err != nil {
		return err
	}
	if existing != nil {
		_, err = s.db.ExecContext(ctx,
			`UPDATE vault_entries SET value = ?, is_secret = ?, updated_at = ? WHERE id = ?`,
			encrypted, isSecret, now, existing.ID)
	} else {
		_, err = s.db.ExecContext(ctx,
			`INSERT INTO vault_entries (vault_id, key, value, is_secret, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?)`, vault.ID, key, encrypted, isSecret, now, now)
	}
	if err != nil {
		return fmt.Errorf("failed to set entry: %w", err)
	}
	// Upstream ignores this statement's error; so does the model.
	s.db.ExecContext(ctx, `UPDATE vaults SET updated_at = ? WHERE id = ?`, now, vault.ID)
	return nil
}

func (s *Store) GetEntry(ctx context.Context, vaultName, key string) (string, error) {
	vault, err := s.GetVault(ctx, vaultName)
	if err != nil {
		return "", err
	}
	if vault == nil {
		return "", fmt.Errorf("vault '%s' not found", vaultName)
	}
	e, err := s.getEntry(ctx, vault.ID, key)
	if err != nil {
		return "", err
	}
	if e == nil {
		return "", fmt.Errorf("key '%s' not found in vault '%s'", key, vaultName)
	}
	return s.enc.DecryptString(e.Value)
}

func (s *Store) ListEntries(ctx context.Context, vaultName string) ([]VaultEntryView, error) {
	vault, err := s.GetVault(ctx, vaultName)
	if err != nil {
		return nil, err
	}
	if vault == nil {
		return nil, fmt.Errorf("vault '%s' not found", vaultName)
	}
	entries, err := s.selectEntries(ctx,
		`SELECT id, vault_id, key, value, is_secret, created_at, updated_at
		 FROM vault_entries WHERE vault_id = ? ORDER BY key`, vault.ID)
	if err != nil {
		return nil, fmt.Errorf("failed to list entries: %w", err)
	}
	views := make([]VaultEntryView, len(entries))
	for i, e := range entries {
		value, _ := s.enc.DecryptString(e.Value)
		if e.IsSecret {
			value = MaskSecret(value)
		}
		views[i] = VaultEntryView{Key: e.Key, Value: value, IsSecret: e.IsSecret,
			CreatedAt: e.CreatedAt.Format(time.RFC3339), UpdatedAt: e.UpdatedAt.Format(time.RFC3339)}
	}
	return views, nil
}

// GetVaultDetail is upstream's show: the vault, then ListEntries (which
// selects the vault a second time).
func (s *Store) GetVaultDetail(ctx context.Context, name string) (*VaultDetail, error) {
	vault, err := s.GetVault(ctx, name)
	if err != nil || vault == nil {
		return nil, err
	}
	entries, err := s.ListEntries(ctx, name)
	if err != nil {
		return nil, err
	}
	return &VaultDetail{Name: vault.Name, Description: vault.Description, Entries: entries,
		CreatedAt: vault.CreatedAt.Format(time.RFC3339), UpdatedAt: vault.UpdatedAt.Format(time.RFC3339)}, nil
}

func (s *Store) GetVaultData(ctx context.Context, vaultName string) (VaultData, error) {
	vault, err := s.GetVault(ctx, vaultName)
	if err != nil {
		return nil, err
	}
	if vault == nil {
		return nil, fmt.Errorf("vault '%s' not found", vaultName)
	}
	entries, err := s.selectEntries(ctx,
		`SELECT id, vault_id, key, value, is_secret, created_at, updated_at
		 FROM vault_entries WHERE vault_id = ?`, vault.ID)
	if err != nil {
		return nil, fmt.Errorf("failed to get vault entries: %w", err)
	}
	data := make(VaultData, len(entries))
	for _, e := range entries {
		v, err := s.enc.DecryptString(e.Value)
		if err != nil {
			return nil, fmt.Errorf("failed to decrypt entry '%s': %w", e.Key, err)
		}
		data[e.Key] = v
	}
	return data, nil
}

// GetMultipleVaultsData merges vaults in order, later wins (upstream).
func (s *Store) GetMultipleVaultsData(ctx context.Context, names []string) (VaultData, error) {
	combined := make(VaultData)
	for _, name := range names {
		data, err := s.GetVaultData(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("vault '%s': %w", name, err)
		}
		for k, v := range data {
			combined[k] = v
		}
	}
	return combined, nil
}

// RegistrationPayload is the merge plus the JSON encoding the server puts in
// its registration response, so both sides end with the same bytes in hand.
func (s *Store) RegistrationPayload(ctx context.Context, names []string) ([]byte, error) {
	data, err := s.GetMultipleVaultsData(ctx, names)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"vaults": data})
}

// ImportEntries: upstream has no import; what a user has is one SetEntry per
// entry (the API or `runqy vault set` in a loop), each its own commits.
func (s *Store) ImportEntries(ctx context.Context, vault string, keys, values []string) error {
	for i := range keys {
		if err := s.SetEntry(ctx, vault, keys[i], values[i], true); err != nil {
			return err
		}
	}
	return nil
}

// RotateKey: upstream has no rotation. The natural one in its style: read
// every vault's entries, decrypt under the old key, encrypt under the new,
// UPDATE each row. Done in one transaction (as upstream's DeleteVault is),
// since without one a crash mid-way leaves a store no single key opens; that
// also makes it far cheaper than 20,000 autocommits, favouring upstream.
func (s *Store) RotateKey(ctx context.Context, newKey []byte) error {
	next := newEncryptor(newKey)
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM vaults ORDER BY name`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	type upd struct {
		id   int64
		blob []byte
	}
	var updates []upd
	for _, name := range names {
		vault, err := s.GetVault(ctx, name)
		if err != nil {
			return err
		}
		entries, err := s.selectEntries(ctx,
			`SELECT id, vault_id, key, value, is_secret, created_at, updated_at
			 FROM vault_entries WHERE vault_id = ?`, vault.ID)
		if err != nil {
			return err
		}
		for _, e := range entries {
			pt, err := s.enc.Decrypt(e.Value)
			if err != nil {
				return err
			}
			blob, err := next.Encrypt(pt)
			if err != nil {
				return err
			}
			updates = append(updates, upd{e.ID, blob})
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now()
	for _, u := range updates {
		if _, err := tx.ExecContext(ctx,
			`UPDATE vault_entries SET value = ?, updated_at = ? WHERE id = ?`, u.blob, now, u.id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.enc = next
	return nil
}
