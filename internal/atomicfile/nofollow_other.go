//go:build !unix

package atomicfile

// noFollow is 0 where open has no such flag.
const noFollow = 0
