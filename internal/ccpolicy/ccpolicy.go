package ccpolicy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
)

// Policy formats, named after the confcom releases whose output they match.
const (
	// Format2 is confcom 2.2 and later without --prerelease-policy-api:
	// api_version 0.11.0, framework_version 0.2.3, rw_mount_device, signals
	// [9, 15] plus the image's stop signal, infrastructure fragment
	// minimum_svn "4".
	Format2 = "2.x"
	// Format1 is confcom 1.x: api_version 0.10.0, no rw_mount_device,
	// signals [] or [stop signal], minimum_svn "1", pause container without
	// a name, /etc/resolv.conf mounted last.
	Format1 = "1.x"
	// Format12 is confcom 1.2.3 to 1.2.7 (1.2.7 is of September 2025): as
	// Format1, but the pause container is named pause-container and
	// /etc/resolv.conf is mounted after the container's own mounts and
	// before the other VN2 default mounts, even when a volume is mounted
	// there too. testdata/format_1_2/README.md gives the sources.
	Format12 = "1.2"
)

// Fragment is a policy fragment import (confcom --include-fragments).
// The ACI infrastructure fragment every policy imports unless
// ExcludeDefaultFragments: Microsoft's, with the pause and sidecar
// containers.
const (
	InfraFeed   = "mcr.microsoft.com/aci/aci-cc-infra-fragment"
	InfraIssuer = "did:x509:0:sha256:I__iuL25oXEVFdTP_aBLx_eT1RPHbCQ_ECBQfYZpt9s::eku:1.3.6.1.4.1.311.76.59.1.3"
)

type Fragment struct {
	Issuer     string
	Feed       string
	MinimumSVN string // digits only
	Includes   []string
}

// Options select the policy format and confcom's command-line switches.
type Options struct {
	// Format is Format2 ("2.x", the default when empty), Format12 ("1.2")
	// or Format1 ("1.x").
	Format string
	// Debug is --debug-mode: /bin/sh and /bin/bash may be exec'd in every
	// container, and stack dumps and runtime logging are allowed.
	Debug bool
	// DisableStdio is --disable-stdio: no container, including the pause
	// container, gets stdio access. By default all have it.
	DisableStdio bool
	// OmitID is --omit-id: containers carry no id (and no name when the name
	// is the image).
	OmitID bool
	// ExcludeDefaultFragments is --exclude-default-fragments: the ACI
	// infrastructure fragment is not imported.
	ExcludeDefaultFragments bool
	// InfraSVN is --infrastructure-svn: the infrastructure fragment's
	// minimum_svn (digits). By default "4" for Format2 and "1" for Format12
	// and Format1.
	InfraSVN string
	// Fragments are imported after the infrastructure fragment.
	Fragments []Fragment
	// WildcardMissingRefs is confcom's -y: an env var whose ConfigMap or
	// Secret is not in the input (or whose Secret lacks the key) may take
	// any value (NAME=.*). By default that is an ErrNotFound error.
	WildcardMissingRefs bool
	// Compat is CompatGuest (the default when empty) or CompatConfcom.
	Compat string
	// Covering are trusted fragments (image-attached, verified): a
	// container one of them covers is left out of the policy, which
	// imports that fragment instead (after Fragments). By default none.
	Covering []CoveringFragment
}

// Compatibility modes: what Generate writes where confcom's policy and what
// the guest receives disagree.
const (
	// CompatGuest (the default) writes confcom's policy wherever the guest
	// would start the pod with it, byte for byte, and corrects only the
	// fields where the guest would deny a container or drop its variables,
	// with what the guest really receives (internal/guest). Each correction
	// is listed in [Policy.Corrections].
	CompatGuest = "guest"
	// CompatConfcom writes confcom's policy exactly, even where the guest
	// would refuse it.
	CompatConfcom = "confcom"
)

// Policy is a generated CCE policy.
type Policy struct {
	// Rego is the policy text that goes, base64-encoded, into the annotation.
	Rego string
	// Pretty is the same policy with the containers indented, as confcom
	// --outraw-pretty-print prints it (without print's trailing newlines).
	// Its hash differs from Rego's; it is for review and golden tests.
	Pretty string
	// SHA256 is the hex sha256 of Rego: the pod's SEV-SNP HOST_DATA.
	SHA256 string
	// Corrections are the fields where Rego differs from confcom's policy
	// (CompatGuest only), in container order.
	Corrections []Correction
	// Notes are what the policy cannot say, though the pod starts (e.g. the
	// variables of an envFrom source that is not in the stream).
	Notes []Note
	// Guest is what the guest will be asked for each container (not the
	// pause container), when Generate computed it (CompatGuest).
	Guest []guest.Container
	// Covered names the containers left out because a fragment of
	// Options.Covering covers them; Imports are then the imports of the
	// fragments that covered them, which the guest must load to start
	// them.
	Covered []string
	Imports []Fragment
}

// Annotation returns the annotation value: Rego in standard, padded base64.
func (p Policy) Annotation() string {
	return base64.StdEncoding.EncodeToString([]byte(p.Rego))
}

// Generate returns the CCE policy of pod: confcom's
// (`az confcom acipolicygen --virtual-node-yaml`), given the facts of each
// image (keyed by the image string exactly as written in the template) and
// the ConfigMaps and Secrets of the stream, corrected with what the guest
// receives unless opts.Compat is CompatConfcom. All problems found are
// returned together, each naming the workload and the field.
func Generate(pod podspec.Pod, images map[string]image.Facts, objects podspec.Objects, opts Options) (Policy, error) {
	prof, err := profileFor(opts.Format)
	if err != nil {
		return Policy{}, fmt.Errorf("%s: %w", pod.Ref(), err)
	}
	frags, err := fragments(prof, opts)
	if err != nil {
		return Policy{}, fmt.Errorf("%s: %w", pod.Ref(), err)
	}
	g := &generator{pod: pod, images: images, objects: objects, opts: opts, prof: prof}
	containers, err := g.containers()
	if err != nil {
		return Policy{}, errors.Join(err, envFromErrors(pod, images, objects, opts))
	}
	var out Policy
	switch opts.Compat {
	case "", CompatGuest:
		if out.Guest, err = guest.Receive(pod, images, objects); err != nil {
			return Policy{}, &FieldError{Workload: pod.Ref(), Field: pod.SpecPath(), Err: err}
		}
		c := corrector{pod: pod, opts: opts}
		if err := c.correct(containers, out.Guest); err != nil {
			return Policy{}, err
		}
		out.Corrections, out.Notes = hideValues(c.corrections, objects), append(g.notes, c.notes...)
	case CompatConfcom:
	default:
		return Policy{}, fmt.Errorf("%s: compat %q: %w (want %q or %q)", pod.Ref(), opts.Compat, ErrUnsupported, CompatGuest, CompatConfcom)
	}
	if frags, containers, err = out.cover(prof, frags, containers, opts); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", pod.Ref(), err)
	}
	if out.Rego, err = prof.render(frags, containers, compactJSON, opts.Debug); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", pod.Ref(), err)
	}
	if out.Pretty, err = prof.render(frags, containers, prettyJSON, opts.Debug); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", pod.Ref(), err)
	}
	sum := sha256.Sum256([]byte(out.Rego))
	out.SHA256 = hex.EncodeToString(sum[:])
	return out, nil
}

// cover leaves out the containers opts.Covering covers and adds the
// imports of the fragments that covered them (out.Imports).
func (out *Policy) cover(prof profile, frags, containers []any, opts Options) ([]any, []any, error) {
	kept, covered, imports := cover(containers, opts.Covering)
	if len(covered) == 0 {
		return frags, containers, nil
	}
	out.Covered, out.Imports = covered, imports
	more, err := fragments(prof, Options{ExcludeDefaultFragments: true, Fragments: imports})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range more {
		if !slices.ContainsFunc(frags, func(f any) bool { return reflect.DeepEqual(f, m) }) {
			frags = append(frags, m)
		}
	}
	return frags, kept, nil
}

// profile is what differs between confcom releases.
type profile struct {
	apiVersion       string
	template         string // fmt template, see render
	frameworkInText  bool   // framework_version is a template argument
	infraSVN         string
	defaultSignals   []int
	appendStopSignal bool // else the stop signal replaces the list
	pauseName        bool
	pauseSignals     []int
	debugExecStdio   bool // debug exec processes carry allow_stdio_access
	resolvConfLast   bool // /etc/resolv.conf after the VN2 default mounts, never skipped
	resolvConfAlways bool // /etc/resolv.conf before them even when a volume is mounted there
	dedupeExec       bool
}

func profileFor(format string) (profile, error) {
	switch format {
	case "", Format2:
		return profile{
			apiVersion:       "0.11.0",
			template:         regoTemplate2,
			frameworkInText:  true,
			infraSVN:         "4",
			defaultSignals:   []int{9, 15},
			appendStopSignal: true,
			pauseName:        true,
			pauseSignals:     []int{9, 15},
			debugExecStdio:   true,
			dedupeExec:       true,
		}, nil
	case Format12:
		return profile{
			apiVersion:       "0.10.0",
			template:         regoTemplate1,
			infraSVN:         "1",
			pauseName:        true,
			pauseSignals:     []int{},
			resolvConfAlways: true,
		}, nil
	case Format1:
		return profile{
			apiVersion:     "0.10.0",
			template:       regoTemplate1,
			infraSVN:       "1",
			pauseSignals:   []int{},
			resolvConfLast: true,
		}, nil
	}
	return profile{}, fmt.Errorf("format %q: %w (want %q, %q or %q)", format, ErrUnsupported, Format2, Format12, Format1)
}

// fragments returns the fragment imports as confcom prints them: each reduced
// to feed, includes, issuer and minimum_svn.
func fragments(prof profile, opts Options) ([]any, error) {
	var errs []error
	out := []any{}
	if opts.ExcludeDefaultFragments && opts.InfraSVN != "" {
		errs = append(errs, fmt.Errorf("infraSVN: %w: cannot be combined with excludeDefaultFragments", ErrInvalid))
	}
	if opts.InfraSVN != "" && !isDigits(opts.InfraSVN) {
		errs = append(errs, fmt.Errorf("infraSVN: %w: %q is not a number", ErrInvalid, opts.InfraSVN))
	}
	if !opts.ExcludeDefaultFragments {
		svn := prof.infraSVN
		if opts.InfraSVN != "" {
			svn = opts.InfraSVN
		}
		out = append(out, map[string]any{
			"feed":        InfraFeed,
			"includes":    []string{"containers", "fragments"},
			"issuer":      InfraIssuer,
			"minimum_svn": svn,
		})
	}
	for i, f := range opts.Fragments {
		field := fmt.Sprintf("fragments[%d]", i)
		if f.Feed == "" {
			errs = append(errs, fmt.Errorf("%s.feed: %w: empty", field, ErrInvalid))
		}
		if f.Issuer == "" {
			errs = append(errs, fmt.Errorf("%s.issuer: %w: empty", field, ErrInvalid))
		}
		if !isDigits(f.MinimumSVN) {
			errs = append(errs, fmt.Errorf("%s.minimumSVN: %w: %q is not a number", field, ErrInvalid, f.MinimumSVN))
		}
		includes := f.Includes
		if includes == nil {
			includes = []string{}
		}
		out = append(out, map[string]any{
			"feed":        f.Feed,
			"includes":    includes,
			"issuer":      f.Issuer,
			"minimum_svn": f.MinimumSVN,
		})
	}
	return out, errors.Join(errs...)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// render fills the Rego template. confcom formats every value with
// pretty_print_func except the containers, which it writes with cw (compact
// in the annotation, pretty for --outraw-pretty-print).
func (p profile) render(frags, containers []any, cw jsonWriter, debug bool) (string, error) {
	values := []any{p.apiVersion}
	if p.frameworkInText {
		values = append(values, "0.2.3")
	}
	values = append(values, frags)
	containersAt := len(values)
	values = append(values, containers)
	// allow_properties_access, allow_dump_stacks, allow_runtime_logging,
	// allow_environment_variable_dropping, allow_unencrypted_scratch,
	// allow_capability_dropping
	for _, b := range []bool{true, debug, debug, true, false, true} {
		values = append(values, b)
	}
	args := make([]any, len(values))
	for i, v := range values {
		w := prettyJSON
		if i == containersAt {
			w = cw
		}
		text, err := w.encode(v)
		if err != nil {
			return "", err
		}
		args[i] = text
	}
	return fmt.Sprintf(p.template, args...), nil
}

// regoTemplate2 is confcom 2.2's data/customer_rego_policy.txt (1,267 bytes,
// no trailing newline).
const regoTemplate2 = `package policy

import future.keywords.every
import future.keywords.in

api_version := %s
framework_version := %s

fragments := %s

containers := %s

allow_properties_access := %s
allow_dump_stacks := %s
allow_runtime_logging := %s
allow_environment_variable_dropping := %s
allow_unencrypted_scratch := %s
allow_capability_dropping := %s

mount_device := data.framework.mount_device
unmount_device := data.framework.unmount_device
mount_overlay := data.framework.mount_overlay
unmount_overlay := data.framework.unmount_overlay
create_container := data.framework.create_container
exec_in_container := data.framework.exec_in_container
exec_external := data.framework.exec_external
shutdown_container := data.framework.shutdown_container
signal_container_process := data.framework.signal_container_process
plan9_mount := data.framework.plan9_mount
plan9_unmount := data.framework.plan9_unmount
get_properties := data.framework.get_properties
dump_stacks := data.framework.dump_stacks
runtime_logging := data.framework.runtime_logging
load_fragment := data.framework.load_fragment
scratch_mount := data.framework.scratch_mount
scratch_unmount := data.framework.scratch_unmount
rw_mount_device := data.framework.rw_mount_device

reason := {"errors": data.framework.errors}`

// regoTemplate1 is confcom 1.x's template (Format1 and Format12):
// framework_version is fixed text and there is no rw_mount_device. It is
// byte for byte data/customer_rego_policy.txt of confcom 1.2.0 to 1.2.7
// (1,222 bytes, no trailing newline).
const regoTemplate1 = `package policy

import future.keywords.every
import future.keywords.in

api_version := %s
framework_version := "0.2.3"

fragments := %s

containers := %s

allow_properties_access := %s
allow_dump_stacks := %s
allow_runtime_logging := %s
allow_environment_variable_dropping := %s
allow_unencrypted_scratch := %s
allow_capability_dropping := %s

mount_device := data.framework.mount_device
unmount_device := data.framework.unmount_device
mount_overlay := data.framework.mount_overlay
unmount_overlay := data.framework.unmount_overlay
create_container := data.framework.create_container
exec_in_container := data.framework.exec_in_container
exec_external := data.framework.exec_external
shutdown_container := data.framework.shutdown_container
signal_container_process := data.framework.signal_container_process
plan9_mount := data.framework.plan9_mount
plan9_unmount := data.framework.plan9_unmount
get_properties := data.framework.get_properties
dump_stacks := data.framework.dump_stacks
runtime_logging := data.framework.runtime_logging
load_fragment := data.framework.load_fragment
scratch_mount := data.framework.scratch_mount
scratch_unmount := data.framework.scratch_unmount

reason := {"errors": data.framework.errors}`
