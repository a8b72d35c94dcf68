// Package layerhash computes the dm-verity root hash of a container image
// layer: the hash a Confidential ACI security policy lists for each layer.
//
// The hash is defined by hcsshim, whose tar2ext4.ConvertAndComputeRootDigest
// the platform and dmverity-vhd use: the uncompressed layer tar is turned into
// a compact ext4 image (OCI whiteouts become overlay whiteouts, metadata is
// sized for a 128 GiB disk), and the root of the dm-verity hash tree over that
// image (SHA-256, 4 KiB blocks, 32-byte zero salt) is the layer's root hash.
//
// This package runs hcsshim's own tar-to-ext4 conversion, so the image is the
// same by construction, but it does not keep the image: it hashes each block
// as the converter writes it and keeps only the leaf hashes, in a temporary
// file, 1/128 of the image. Reading the blob (with its SHA-256), decompressing
// and converting run in three goroutines, so that a layer costs about what
// gunzip and SHA-256 of its blob cost. Tests check the results against
// ConvertAndComputeRootDigest.
//
// Hasher adds what the registry client needs: it reads the compressed blob
// itself and verifies its digest while streaming (it does not trust
// go-containerregistry's Uncompressed), decompresses gzip or zstd, refuses
// decompression bombs (Limits), hashes layers in parallel and caches results
// by layer digest.
//
// While the converter reads the tar, a second reader follows the same chunks
// (skipping file data without copying it) with archive/tar, the reader
// tar2ext4 uses, and records what the layer does to /etc/group
// (image.EtcGroup): the GIDs of its etc/group (last entry wins, at most
// MaxEtcGroupSize, parsed as the guest's moby/sys/user parses it), a
// removal (etc/.wh.group, a whiteout of etc, an opaque etc/ or /), nothing,
// or a form it does not read (a link, /etc not a directory). The guest
// looks each additional GID up in the image's /etc/group, and fails the
// container when it is not there. Hasher caches it with the root hash; a
// root hash cached by an older cocofy is used without it.
//
// The package does not fetch anything: the caller's v1.Layer does.
package layerhash
