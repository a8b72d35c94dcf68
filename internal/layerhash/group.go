package layerhash

import (
	"archive/tar"
	"bytes"
	"io"
	"math"
	"path"
	"slices"
	"strconv"

	"cocofy.dev/cocofy/image"
)

// MaxEtcGroupSize is the largest /etc/group a layer may have for its groups
// to be read; a larger one is image.EtcGroupUnknown.
const MaxEtcGroupSize = 1 << 20

// Names of the tar entries that decide what a layer does to /etc/group,
// cleaned (no leading "/" or "./"). Whiteouts are OCI's, as hcsshim's
// tar2ext4 turns them into overlay whiteouts.
const (
	groupEntry       = "etc/group"
	groupWhiteout    = "etc/.wh.group"
	etcEntry         = "etc"
	etcWhiteout      = ".wh.etc"
	etcOpaque        = "etc/.wh..wh..opq"
	rootOpaque       = ".wh..wh..opq"
	groupEntryPrefix = groupEntry + "/"
)

// scanEtcGroup reads the layer tar from t, as tar2ext4 reads it, and
// returns what the layer does to /etc/group. It reads to the end of t
// whatever happens, so that the pipe's reader is never held up, and
// returns nil when it cannot tell (t is not a whole tar archive). It also
// adds up the entries' sizes (a sparse file's is its full size) and calls
// tooBig once they exceed maxFiles, when positive.
func scanEtcGroup(t *tap, maxFiles int64, tooBig func()) (g *image.EtcGroup) {
	defer t.drain()
	defer func() {
		if recover() != nil {
			g = nil
		}
	}()
	var s groupScan
	var files int64
	tr := tar.NewReader(t)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return s.result()
		}
		if err != nil {
			return nil
		}
		if size := max(hdr.Size, 0); maxFiles > 0 && size > maxFiles-files {
			tooBig()
			maxFiles = 0
		} else {
			files += size
		}
		if err := s.entry(hdr, tr); err != nil {
			return nil
		}
	}
}

// groupScan follows, entry by entry, what one layer does to /etc/group.
type groupScan struct {
	// last is what the last entry at etc/group was: "" (none), "file",
	// "whiteout" or "other" (a link, a directory, a special file). As in
	// tar2ext4, a later entry replaces an earlier one.
	last string
	// gids are the GIDs of the last file; ok is false when they could not
	// be read (too large, a GID beyond 32 bits).
	gids []uint32
	ok   bool
	// hides is set when the layer hides the /etc/group of the layers
	// below: an opaque /etc or /, or a whiteout of /etc.
	hides bool
	// etcNotDir is set when the layer has /etc as something other than a
	// directory (a symlink: the guest would follow it).
	etcNotDir bool
}

func (s *groupScan) entry(hdr *tar.Header, r io.Reader) error {
	name := path.Clean("/" + hdr.Name)[1:]
	switch {
	case name == groupEntry && hdr.Typeflag == tar.TypeReg:
		s.last = "file"
		s.gids, s.ok = nil, false
		if hdr.Size > MaxEtcGroupSize {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(r, MaxEtcGroupSize+1))
		if err != nil {
			return err
		}
		if len(b) <= MaxEtcGroupSize {
			s.gids, s.ok = parseEtcGroup(b)
		}
	case name == groupEntry:
		s.last = "other"
	case len(name) > len(groupEntryPrefix) && name[:len(groupEntryPrefix)] == groupEntryPrefix:
		// etc/group is a directory here.
		s.last = "other"
	case name == groupWhiteout:
		s.last = "whiteout"
	case name == etcOpaque, name == rootOpaque, name == etcWhiteout:
		s.hides = true
	case name == etcEntry && hdr.Typeflag != tar.TypeDir:
		s.etcNotDir = true
	}
	return nil
}

// result is what the layer does to /etc/group, once every entry was seen.
func (s *groupScan) result() *image.EtcGroup {
	unknown := &image.EtcGroup{Change: image.EtcGroupUnknown}
	switch {
	case s.etcNotDir:
		return unknown
	case s.last == "file" && s.ok:
		return &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: s.gids}
	case s.last == "file", s.last == "other":
		return unknown
	case s.last == "whiteout", s.hides:
		// Whiteouts and opaque directories hide the layers below only: a
		// file of this layer would be s.last == "file".
		return &image.EtcGroup{Change: image.EtcGroupRemoved}
	}
	return &image.EtcGroup{Change: image.EtcGroupKept}
}

// parseEtcGroup returns the GIDs of an /etc/group file, sorted, each line
// counted, read as the guest reads the file (moby/sys/user's
// ParseGroupFilter, which hcsshim uses): lines are trimmed, blank lines
// and lines starting with # are skipped, the GID is the third
// colon-separated field, and a line without one, or whose GID is not a
// number, has GID 0. ok is false when a GID does not fit 32 bits: the
// guest then fails for some GIDs in ways not worth modelling.
func parseEtcGroup(b []byte) (gids []uint32, ok bool) {
	gids = []uint32{}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var gid int
		if f := bytes.Split(line, []byte(":")); len(f) > 2 {
			gid, _ = strconv.Atoi(string(f[2]))
		}
		if gid < 0 || gid > math.MaxUint32 {
			return nil, false
		}
		gids = append(gids, uint32(gid))
	}
	slices.Sort(gids)
	return gids, true
}
