// Package cache keeps immutable, content-addressed facts on disk (by default
// under $XDG_CACHE_HOME/cocofy): image facts by manifest digest, layer root
// hashes by layer digest, passed enforcer replays by the hash of policy and
// pod.
//
// Entries are written to a temporary file and renamed into place, so
// concurrent runs never see a half-written entry and a killed run leaves at
// most a stray temporary file. Each entry carries the SHA-256 of its payload;
// an entry that fails the check is removed and treated as missing, so it is
// recomputed.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"cocofy.dev/cocofy/internal/image"
)

// Dir is a cache folder. The zero value caches nothing.
type Dir struct {
	Path string
}

// EnvDir names the variable that overrides the cache folder; "off" turns
// the cache off.
const EnvDir = "COCOFY_CACHE_DIR"

// Default returns $COCOFY_CACHE_DIR, else the user cache folder
// ($XDG_CACHE_HOME, else ~/.cache) + "/cocofy". With neither it caches
// nothing.
func Default() Dir {
	if p := os.Getenv(EnvDir); p != "" {
		if p == "off" {
			return Dir{}
		}
		return Dir{Path: p}
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return Dir{}
	}
	return Dir{Path: filepath.Join(base, "cocofy")}
}

type entry struct {
	SHA256  string          `json:"sha256"`
	Payload json.RawMessage `json:"payload"`
}

var keyChars = regexp.MustCompile(`^[a-z0-9]+:[a-f0-9]{32,128}$`)

func (d Dir) file(kind, key string) (string, error) {
	if !keyChars.MatchString(key) {
		return "", fmt.Errorf("cache: key %q is not a digest", key)
	}
	return filepath.Join(d.Path, kind, strings.Replace(key, ":", "-", 1)+".json"), nil
}

// Get reads the entry kind/key into v and reports whether it was there and
// intact.
func (d Dir) Get(kind, key string, v any) bool {
	if d.Path == "" {
		return false
	}
	f, err := d.file(kind, key)
	if err != nil {
		return false
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return false
	}
	var e entry
	if json.Unmarshal(b, &e) != nil || e.SHA256 != sum(e.Payload) || json.Unmarshal(e.Payload, v) != nil {
		_ = os.Remove(f) // corrupt: recompute
		return false
	}
	return true
}

// Put stores v as kind/key, atomically.
func (d Dir) Put(kind, key string, v any) error {
	if d.Path == "" {
		return nil
	}
	f, err := d.file(kind, key)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	b, err := json.Marshal(entry{SHA256: sum(payload), Payload: payload})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache: writing %s: %w", f, err)
	}
	if err := os.Rename(tmp.Name(), f); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// GetFacts implements registry.FactsCache.
func (d Dir) GetFacts(manifestDigest string) (image.Facts, bool) {
	var f image.Facts
	ok := d.Get("facts", manifestDigest, &f)
	return f, ok
}

// PutFacts implements registry.FactsCache.
func (d Dir) PutFacts(manifestDigest string, f image.Facts) error {
	f.Ref, f.Digest = "", "" // the same manifest may be reached from many refs
	return d.Put("facts", manifestDigest, f)
}
