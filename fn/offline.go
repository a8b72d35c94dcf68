package fn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/registry"
)

// offlineHint ends a registry error on a host with no network but
// loopback: kpt and kustomize run a container function so unless told
// otherwise, and there the lock file, mounted, is what pins.
const offlineHint = "there is no network here (kpt and kustomize run container functions without one): " +
	"mount the lock file and read it offline (kpt fn eval --mount type=bind,src=$PWD/images.lock.yaml,dst=/lock/images.lock.yaml " +
	"-- lockFile=/lock/images.lock.yaml lockMode=use), give the container network (kpt fn eval --network), " +
	"or turn pinning off (-- pin=false, or spec.images.pin: false)"

// offlineHinting is the registry client, whose network errors say what
// to do when there is no network at all.
type offlineHinting struct{ *registry.Client }

func (h offlineHinting) Resolve(ctx context.Context, ref string) (image.Pin, error) {
	pin, err := h.Client.Resolve(ctx, ref)
	return pin, hintOffline(err)
}

func (h offlineHinting) Inspect(ctx context.Context, ref, platform string) (image.Facts, error) {
	f, err := h.Client.Inspect(ctx, ref, platform)
	return f, hintOffline(err)
}

func (h offlineHinting) Attached(ctx context.Context, ref, platform string) (image.Facts, []image.AttachedFragment, error) {
	f, frags, err := h.Client.Attached(ctx, ref, platform)
	return f, frags, hintOffline(err)
}

// hintOffline adds offlineHint to a network error (a dial or a name
// lookup that failed) when the host has no network.
func hintOffline(err error) error {
	var op *net.OpError
	var dns *net.DNSError
	if err == nil || !errors.As(err, &op) && !errors.As(err, &dns) || hasNetwork() {
		return err
	}
	return fmt.Errorf("%w; %s", err, offlineHint)
}

// hasNetwork reports whether an interface other than loopback is up: a
// container run with --network none has only lo. Tests replace it.
var hasNetwork = func() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return true // no hint rather than a wrong one
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			return true
		}
	}
	return false
}

// hintMount adds, to a lock file that is not there on a host without
// network (a container function: kpt and kustomize give it none of your
// files either), how to mount it.
func hintMount(err error) error {
	if !errors.Is(err, fs.ErrNotExist) || hasNetwork() {
		return err
	}
	return fmt.Errorf("%w; a container function sees none of your files: mount the lock file "+
		"(kpt fn eval --mount type=bind,src=$PWD/images.lock.yaml,dst=/lock/images.lock.yaml -- lockFile=/lock/images.lock.yaml lockMode=use)", err)
}
