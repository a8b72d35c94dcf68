package ccpolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cocofy.dev/cocofy/image"
)

// FragmentOptions are `az confcom acifragmentgen --image`'s switches.
type FragmentOptions struct {
	// Namespace is the fragment's Rego package (--namespace). The caller
	// checks it (internal/fragment); it is written as given.
	Namespace string
	// SVN is --svn: digits, written as a JSON string as confcom does.
	SVN string
	// Raw is --outraw: the containers on one line. By default confcom
	// pretty-prints them.
	Raw bool
	// DisableStdio is --disable-stdio.
	DisableStdio bool
	// OmitID is --omit-id.
	OmitID bool
	// ExcludeDefaultFragments leaves out the import of the ACI
	// infrastructure fragment, which confcom's fragments always carry.
	ExcludeDefaultFragments bool
}

// GenerateFragment returns the fragment Rego `az confcom acifragmentgen
// --image REF [--image REF…] --namespace NS --svn N` writes (confcom
// 2.0.1, data/customer_rego_fragment.txt), one container per reference in
// order, given each image's facts keyed by the reference as written.
//
// The containers are ACI containers (load_policy_from_image_name), not
// VN2 ones: id and name are the reference, no pod spec, only
// /etc/resolv.conf mounted, only the ACI env rules injected, and the
// image's stop signal replaces the empty signal list as in confcom 2.0.1.
func GenerateFragment(refs []string, images map[string]image.Facts, opts FragmentOptions) (string, error) {
	if len(refs) == 0 {
		return "", fmt.Errorf("%w: no image", ErrInvalid)
	}
	if !isDigits(opts.SVN) {
		return "", fmt.Errorf("svn: %w: %q is not a number", ErrInvalid, opts.SVN)
	}
	frags, err := fragments(profile{infraSVN: "4"}, Options{ExcludeDefaultFragments: opts.ExcludeDefaultFragments})
	if err != nil {
		return "", err
	}
	var errs []error
	containers := []any{}
	for _, ref := range refs {
		c, err := aciContainer(ref, images, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		containers = append(containers, c)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	cw := prettyJSON
	if opts.Raw {
		cw = compactJSON
	}
	values := make([]any, 3)
	for i, v := range []struct {
		v any
		w jsonWriter
	}{{opts.SVN, prettyJSON}, {frags, prettyJSON}, {containers, cw}} {
		if values[i], err = v.w.encode(v.v); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf(regoFragmentTemplate, opts.Namespace, values[0], values[1], values[2]), nil
}

// aciContainer is UserContainerImage.get_policy_json for a container that
// load_policy_from_image_name made, after populate_policy_content_for_all_images.
func aciContainer(ref string, images map[string]image.Facts, opts FragmentOptions) (map[string]any, error) {
	facts, ok := images[ref]
	switch {
	case isSidecar(ref):
		return nil, fmt.Errorf("%q is an ACI sidecar image: %w", ref, ErrUnsupported)
	case !ok:
		return nil, fmt.Errorf("%q: %w", ref, ErrNoImageFacts)
	case !facts.HasRootHashes():
		return nil, fmt.Errorf("%q: %w: a layer has no dm-verity root hash", ref, ErrNoImageFacts)
	case facts.OS != "linux" || facts.Architecture != "amd64":
		return nil, fmt.Errorf("%q: %w: platform %s/%s, want linux/amd64", ref, ErrUnsupported, facts.OS, facts.Architecture)
	}
	var errs []error
	env := imageEnv(nil, facts, func(e string) {
		errs = append(errs, fmt.Errorf("%q: %w: image env entry %q has no '='", ref, ErrInvalid, e))
	})
	env = injectEnv(env, injectedEnv[:aciInjectedEnv])
	// confcom 2.0.1 lets the stop signal replace the empty list (Format1).
	signals, err := (&generator{prof: profile{}}).signals(facts.Config.StopSignal)
	if err != nil {
		errs = append(errs, fmt.Errorf("%q: %w", ref, err))
	}
	user, err := userOf(nil, facts.Config.User)
	if err != nil {
		errs = append(errs, fmt.Errorf("%q: %w", ref, err))
	}
	caps, err := capabilitiesOf(nil, false)
	if err != nil {
		errs = append(errs, fmt.Errorf("%q: %w", ref, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m := map[string]any{
		"allow_elevated":         false,
		"allow_stdio_access":     !opts.DisableStdio,
		"capabilities":           caps,
		"command":                aciCommand(facts.Config),
		"env_rules":              envJSON(env),
		"exec_processes":         []any{},
		"id":                     ref,
		"layers":                 rootHashes(facts),
		"mounts":                 []any{resolvConfMount()},
		"name":                   ref,
		"no_new_privileges":      false,
		"seccomp_profile_sha256": "",
		"signals":                signals,
		"user":                   user,
		"working_dir":            workingDir(facts.Config),
	}
	if opts.OmitID {
		delete(m, "id")
		delete(m, "name") // the name is the reference
	}
	return m, nil
}

// resolvConfMount is confcom's default_mounts_user: the one mount of an
// ACI container.
func resolvConfMount() map[string]any {
	return map[string]any{
		"destination": "/etc/resolv.conf",
		"options":     []string{"rbind", "rshared", "rw"},
		"source":      "sandbox:///tmp/atlas/resolvconf/.+",
		"type":        "bind",
	}
}

// aciInjectedEnv is how many of injectedEnv confcom injects into an ACI
// container (_INJECTED_CUSTOMER_ENV_RULES: openGCS, fabric,
// managedIdentity, enableRestart); VN2 adds the service rules after them.
const aciInjectedEnv = 10

// aciCommand is confcom's ACI reading of the image: Cmd, after the
// Entrypoint when there is one; null when the image has neither.
func aciCommand(c image.Config) any {
	command := append(slices.Clone(c.Entrypoint), c.Cmd...)
	if command == nil {
		return nil
	}
	return command
}

// regoFragmentTemplate is confcom 2.0.1's data/customer_rego_fragment.txt
// (86 bytes, with a trailing newline).
const regoFragmentTemplate = `package %s

svn := %s
framework_version := "0.2.3"

fragments := %s

containers := %s
`

// IsDigits reports whether s is a non-empty string of ASCII digits, the
// form of an SVN.
func IsDigits(s string) bool { return isDigits(s) }

// workingDir is the image's working directory, "/" when it has none.
func workingDir(c image.Config) string {
	if c.WorkingDir == "" {
		return "/"
	}
	return c.WorkingDir
}

func rootHashes(f image.Facts) []string {
	out := make([]string, len(f.Layers))
	for i, l := range f.Layers {
		out[i] = l.RootHash
	}
	return out
}

func envJSON(env []envRule) []any {
	out := make([]any, len(env))
	for i, r := range env {
		out[i] = map[string]any{"pattern": r.pattern, "required": false, "strategy": r.strategy}
	}
	return out
}

// imageEnv appends the image's env entries whose name env does not have yet.
func imageEnv(env []envRule, facts image.Facts, bad func(entry string)) []envRule {
	names := envNames(env)
	for _, e := range facts.Config.Env {
		n, v, ok := strings.Cut(e, "=")
		if !ok {
			bad(e)
			continue
		}
		if !names[n] {
			env = append(env, envRule{n + "=" + v, "string"})
		}
	}
	return env
}

// injectEnv appends the rules whose name env does not have yet.
func injectEnv(env []envRule, rules []struct{ name, value, strategy string }) []envRule {
	names := envNames(env)
	for _, r := range rules {
		if !names[r.name] {
			env = append(env, envRule{r.name + "=" + r.value, r.strategy})
		}
	}
	return env
}

// PrettyJSON is confcom's pretty_print_func, json.dumps(v, indent=2,
// sort_keys=True), for values made of nil, bool, string, int, []string,
// []any and map[string]any.
func PrettyJSON(v any) (string, error) { return prettyJSON.encode(v) }
