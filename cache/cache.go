// Package cache keeps immutable, content-addressed facts on disk (by default
// under $XDG_CACHE_HOME/cocofy): image facts by manifest digest, layer root
// hashes by layer digest, passed enforcer replays by the hash of policy and
// pod.
//
// Entries are written to a temporary file and renamed into place, so
// concurrent runs never see a half-written entry and a killed run leaves at
// most a stray temporary file. Each entry records the kind and key it was
// stored under and a SHA-256 over kind, key and payload. An entry that fails
// the check, or that names another kind or key than its file (copied or
// moved under the wrong name), is reported on Dir.Log, removed and treated as
// missing, so it is recomputed.
//
// The cache is optional: when it cannot be written (read-only folder, full
// disk, a file where the folder should be) the first failure is reported on
// Dir.Log and the run goes on without storing anything.
//
// The checksum proves no origin: anyone who can write to the folder can
// write a valid entry, and an entry decides a policy (image facts, layer
// root hashes, passed replays). So, as OpenSSH's StrictModes, the folder,
// each kind's folder in it and each entry must be owned by this user and
// writable by no other, and a kind's folder must not be a symbolic link.
// An untrusted folder is reported on Dir.Log and the run goes on without
// the cache; an untrusted entry, a symbolic link, anything but a regular
// file or one above MaxEntrySize is reported, removed and recomputed.
// Entries are replaced by a rename in the kind's folder, which never
// follows a link planted there.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"cocofy.dev/cocofy/internal/atomicfile"
)

// Store keeps small JSON values by kind and key: the one cache interface of
// cocofy's stages (layer root hashes, passed enforcer replays). Dir
// implements it; tests use maps.
type Store interface {
	// Get reads the entry kind/key into v and reports whether it was there.
	Get(kind, key string, v any) bool
	// Put stores v as kind/key.
	Put(kind, key string, v any) error
}

var _ Store = Dir{}

// Dir is a cache folder. The zero value caches nothing.
type Dir struct {
	Path string
	// Log, when set, receives a "warning: cache: …" line for each entry
	// that is corrupt or stored under the wrong name, and one for the first
	// failure to write. Put then returns nil: the problem was reported and
	// the cache is optional. With no Log, Put returns its errors.
	Log io.Writer

	// state is shared by the copies of a Dir made by Default or Open, so
	// that a write failure is reported once and later writes are skipped.
	// A Dir literal has none and reports every failure.
	state *state
}

type state struct {
	mu       sync.Mutex
	writeErr error // the first failure to write; later writes are skipped
	// distrust is why the folder is not trusted; the cache is then off.
	distrust error
}

// MaxEntrySize bounds the entries read: the largest, image facts, are
// far smaller.
const MaxEntrySize = 64 << 20

// errUntrusted is wrapped by owned's errors.
var errUntrusted = errors.New("not trusted")

// logMu serializes writes to Log across Dirs.
var logMu sync.Mutex

// EnvDir names the variable that overrides the cache folder; "off" turns
// the cache off.
const EnvDir = "COCOFY_CACHE_DIR"

// Open returns the cache at path ("" caches nothing) reporting problems on
// log (nil: nowhere, and Put returns its errors).
func Open(path string, log io.Writer) Dir {
	return Dir{Path: path, Log: log, state: &state{}}
}

// Default returns $COCOFY_CACHE_DIR, else the user cache folder
// ($XDG_CACHE_HOME, else ~/.cache) + "/cocofy". With neither it caches
// nothing. Set Log on the result to hear about problems.
func Default() Dir {
	if p := os.Getenv(EnvDir); p != "" {
		if p == "off" {
			return Dir{}
		}
		return Open(p, nil)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return Dir{}
	}
	return Open(filepath.Join(base, "cocofy"), nil)
}

// entry is what a cache file holds. Kind and Key bind it to the name it
// was stored under; SHA256 covers them and the payload.
type entry struct {
	Kind    string          `json:"kind"`
	Key     string          `json:"key"`
	SHA256  string          `json:"sha256"`
	Payload json.RawMessage `json:"payload"`
}

var (
	keyChars  = regexp.MustCompile(`^[a-z0-9]+:[a-f0-9]{32,128}$`)
	kindChars = regexp.MustCompile(`^[a-z0-9]+$`)
)

func (d Dir) file(kind, key string) (string, error) {
	if !kindChars.MatchString(kind) {
		return "", fmt.Errorf("cache: kind %q is not a lowercase word", kind)
	}
	if !keyChars.MatchString(key) {
		return "", fmt.Errorf("cache: key %q is not a digest", key)
	}
	return filepath.Join(d.Path, kind, strings.Replace(key, ":", "-", 1)+".json"), nil
}

// Get reads the entry kind/key into v and reports whether it was there and
// intact. An entry that is corrupt, or that was stored as another kind or
// key (a file copied or moved under this name), is reported on Log,
// removed, and is a miss.
func (d Dir) Get(kind, key string, v any) bool {
	if d.Path == "" {
		return false
	}
	f, err := d.file(kind, key)
	if err != nil || d.distrust(kind) != nil {
		return false
	}
	b, fi, err := atomicfile.ReadNoFollow(f, MaxEntrySize)
	if err == nil {
		err = owned(fi)
	}
	if err != nil {
		if untrusted(err) {
			d.drop(f, distrustReason(err))
		}
		return false
	}
	var e entry
	switch {
	case json.Unmarshal(b, &e) != nil:
		d.drop(f, "is not a cache entry (cut short?)")
	case e.Kind == "" && e.Key == "":
		// Written by a cocofy from before entries named their key:
		// stale, not wrong. It is overwritten when recomputed.
	case e.Kind != kind || e.Key != key:
		d.drop(f, fmt.Sprintf("holds the %s entry of %s, not the %s entry of %s (copied or moved under the wrong name?)", e.Kind, e.Key, kind, key))
	case e.SHA256 != sum(kind, key, e.Payload):
		d.drop(f, "is corrupt (its checksum does not match)")
	case json.Unmarshal(e.Payload, v) != nil:
		d.drop(f, "does not decode")
	default:
		return true
	}
	return false
}

// drop reports the bad entry f on Log and removes it, so it is recomputed.
func (d Dir) drop(f, why string) {
	d.logf("warning: cache: %s %s; ignored, recomputed\n", f, why)
	_ = os.Remove(f)
}

func (d Dir) logf(format string, args ...any) {
	if d.Log == nil {
		return
	}
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(d.Log, format, args...)
}

// Put stores v as kind/key, atomically. When the cache cannot be written
// and Log is set, Put reports it there (once per Dir from Default or
// Open, which then stops writing) and returns nil.
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
	b, err := json.Marshal(entry{Kind: kind, Key: key, SHA256: sum(kind, key, payload), Payload: payload})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if d.state != nil {
		d.state.mu.Lock()
		err := d.state.writeErr
		d.state.mu.Unlock()
		if err != nil { // reported already: go on without the cache
			return d.returned(err)
		}
	}
	if err := d.distrust(kind); err != nil {
		return d.returned(err)
	}
	if err := write(f, b); err != nil {
		return d.writeFailed(err)
	}
	return nil
}

// distrust returns why the folder or kind's folder in it may not be used,
// nil when both, if they exist, are owned by this user and writable by no
// other, and kind's folder is not a symbolic link. The first problem is
// reported on Log and, for a Dir from Open or Default, turns the cache off
// for it and its copies; a Dir literal reports every time.
func (d Dir) distrust(kind string) error {
	if d.state != nil {
		d.state.mu.Lock()
		err := d.state.distrust
		d.state.mu.Unlock()
		if err != nil {
			return err
		}
	}
	err := folderTrust(d.Path, os.Stat)
	if err == nil {
		err = folderTrust(filepath.Join(d.Path, kind), os.Lstat)
	}
	if err == nil {
		return nil
	}
	first := true
	if d.state != nil {
		d.state.mu.Lock()
		if first = d.state.distrust == nil; first {
			d.state.distrust = err
		}
		d.state.mu.Unlock()
	}
	if first {
		d.logf("warning: %v; going on without the cache (make the folder yours and writable only by you, or set %s to such a folder, or to off)\n", err, EnvDir)
	}
	return err
}

// untrusted reports whether err, from reading an entry, says it is not
// one to trust (rather than missing or unreadable).
func untrusted(err error) bool {
	return errors.Is(err, errUntrusted) || errors.Is(err, syscall.ELOOP) ||
		errors.Is(err, atomicfile.ErrNotRegular) || errors.Is(err, atomicfile.ErrTooLarge)
}

// distrustReason says why an entry is not trusted, after its path.
func distrustReason(err error) string {
	if errors.Is(err, syscall.ELOOP) {
		return "is not trusted: a symbolic link"
	}
	return "is " + unwrapPath(err).Error()
}

// folderTrust checks the folder at path, when there is one (an error
// reading it is left to the write that follows).
func folderTrust(path string, stat func(string) (fs.FileInfo, error)) error {
	fi, err := stat(path)
	switch {
	case err != nil:
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("cache: %s is %w: a symbolic link", path, errUntrusted)
	}
	if err := owned(fi); err != nil {
		return fmt.Errorf("cache: %s is %w", path, err)
	}
	return nil
}

// writeFailed reports err on Log, only the first time for a Dir with
// state, and returns what Put returns.
func (d Dir) writeFailed(err error) error {
	if d.state != nil {
		d.state.mu.Lock()
		first := d.state.writeErr == nil
		if first {
			d.state.writeErr = err
		}
		d.state.mu.Unlock()
		if !first {
			return d.returned(err)
		}
	}
	d.logf("warning: %v; going on without the cache (set %s to a writable folder, or to off)\n", err, EnvDir)
	return d.returned(err)
}

// returned is what Put returns for a failure to write: nil when Log has
// been told.
func (d Dir) returned(err error) error {
	if d.Log != nil {
		return nil
	}
	return err
}

// write puts b in f through a temporary file and a rename.
func write(f string, b []byte) error {
	dir := filepath.Dir(f)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cache: cannot write to %s: %w", dir, err)
	}
	if err := atomicfile.Replace(f, b, 0o644); err != nil {
		return fmt.Errorf("cache: cannot write %s: %w", f, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops the operation and path of a *fs.PathError or
// *os.LinkError, which the message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// sum is the checksum of an entry: it binds the payload to kind and key.
func sum(kind, key string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(kind + "\x00" + key + "\x00"))
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil))
}
