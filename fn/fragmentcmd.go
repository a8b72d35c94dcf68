package fn

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/pipeline"
)

// newFragmentCommand is `cocofy fragment`: policy fragments for image
// publishers (generate, sign, verify, import, attach).
func newFragmentCommand(deps DepsFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fragment",
		Short: "Make, sign, check and attach Confidential ACI policy fragments",
		Long: `A policy fragment is a signed Rego module that lists containers a base policy
may run, so that an image publisher can vouch for an image once and every
policy that imports the fragment (by issuer and feed) accepts it. The
commands write what az confcom acifragmentgen writes, and check what the
guest checks before it loads a fragment.`,
		Example: `  cocofy fragment generate --image registry.example.com/app:1.2 --namespace app --svn 1 > app.rego
  cocofy fragment sign --key leaf.key.pem --chain chain.pem --feed registry.example.com/app app.rego > app.rego.cose
  cocofy fragment verify app.rego.cose
  cocofy fragment import app.rego.cose > fragments.json
  cocofy fragment attach --image registry.example.com/app:1.2 app.rego.cose`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(newFragmentGenerateCommand(deps), newFragmentSignCommand(),
		newFragmentVerifyCommand(), newFragmentImportCommand(), newFragmentAttachCommand())
	return cmd
}

type fragmentGenerateOptions struct {
	images     []string
	configPath string
	frag       ccpolicy.FragmentOptions
	sign       fragmentSignFlags
}

func newFragmentGenerateCommand(deps DepsFunc) *cobra.Command {
	o := &fragmentGenerateOptions{}
	cmd := &cobra.Command{
		Use:   "generate --image REF [--image REF]... --namespace NS --svn N [--key KEY.pem --chain CHAIN.pem --feed FEED]",
		Short: "Print the fragment Rego az confcom acifragmentgen --image writes",
		Long: `generate prints, byte for byte, the fragment az confcom acifragmentgen (2.0.1)
writes for the same images: package <namespace>, svn, framework_version,
the import of the ACI infrastructure fragment, and one container per image
(its layers' dm-verity root hashes, command, env, working directory and user).
Image facts come from the registry, or from the lock file of --config.
With --key, --chain and --feed it prints the signed envelope instead, as
fragment sign does (confcom's --out-signed-fragment).`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, deps)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.images, "image", nil, "image reference (repeat for several containers)")
	f.StringVar(&o.frag.Namespace, "namespace", "", "the fragment's Rego package")
	f.StringVar(&o.frag.SVN, "svn", "", "the fragment's security version number (digits)")
	f.StringVar(&o.configPath, "config", "", "config file (kind Cocofy) for images.lockFile, lockMode, insecureRegistries, platform; by default the registry is asked")
	f.BoolVar(&o.frag.Raw, "outraw", false, "write the containers on one line (confcom --outraw)")
	f.BoolVar(&o.frag.OmitID, "omit-id", false, "leave out each container's id and name (confcom --omit-id)")
	f.BoolVar(&o.frag.DisableStdio, "disable-stdio", false, "deny the containers stdio (confcom --disable-stdio)")
	o.sign.addFlags(cmd)
	cmd.MarkFlagsRequiredTogether("key", "chain", "feed")
	for _, name := range []string{"image", "namespace", "svn"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (o *fragmentGenerateOptions) run(cmd *cobra.Command, deps DepsFunc) error {
	if err := fragment.CheckNamespace(o.frag.Namespace); err != nil {
		return fmt.Errorf("--namespace: %w", err)
	}
	if !ccpolicy.IsDigits(o.frag.SVN) {
		return fmt.Errorf("--svn: %q is not a number", o.frag.SVN)
	}
	c, err := o.config()
	if err != nil {
		return err
	}
	d, err := deps(cmd.Context(), c, io.Discard, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	facts := map[string]image.Facts{}
	for _, ref := range o.images {
		if facts[ref], err = d.Inspector.Inspect(cmd.Context(), ref, c.Spec.Images.Platform); err != nil {
			return fmt.Errorf("--image %s: %w", ref, err)
		}
	}
	rego, err := fragment.Generate(o.images, facts, o.frag)
	if err != nil {
		return err
	}
	out := []byte(rego)
	if o.sign.key != "" {
		if out, err = o.sign.sign(out); err != nil {
			return err
		}
	}
	if d.Commit != nil {
		if err := d.Commit(); err != nil {
			return err
		}
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// config is --config's, else the defaults for virtual nodes (layer root
// hashes from the registry).
func (o *fragmentGenerateOptions) config() (*Config, error) {
	var c *Config
	var err error
	if o.configPath != "" {
		c, err = LoadConfigFile(o.configPath)
	} else {
		c, err = ParseConfig([]byte("apiVersion: "+APIVersion+"\nkind: "+Kind+"\nspec: {target: "+string(pipeline.TargetVirtualNode)+"}\n"), ".")
	}
	if err != nil {
		return nil, err
	}
	// Fragments always need the root hashes, whatever the config's target.
	c.Spec.Target = pipeline.TargetVirtualNode
	c.Spec.Policy.Attach = nil
	if c.Spec.Images.Platform == "" {
		c.Spec.Images.Platform = image.DefaultPlatform
	}
	return c, nil
}

// fragmentSignFlags are the signing flags of sign and generate.
type fragmentSignFlags struct {
	key, chain string
	opts       fragment.SignOptions
}

func (f *fragmentSignFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.key, "key", "", "the leaf certificate's private key (PEM: EC, PKCS#8 or PKCS#1)")
	fs.StringVar(&f.chain, "chain", "", "the certificate chain (PEM, leaf first)")
	fs.StringVar(&f.opts.Feed, "feed", "", "the feed a base policy imports the fragment by, e.g. the image's repository")
	fs.StringVar(&f.opts.Algorithm, "algo", fragment.DefaultAlgorithm, "signing algorithm: "+strings.Join(fragment.Algorithms(), ", "))
}

// sign returns the envelope of payload.
func (f *fragmentSignFlags) sign(payload []byte) ([]byte, error) {
	keyPEM, err := os.ReadFile(f.key)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	chainPEM, err := os.ReadFile(f.chain)
	if err != nil {
		return nil, fmt.Errorf("--chain: %w", err)
	}
	out, err := fragment.Sign(payload, keyPEM, chainPEM, f.opts)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return out, nil
}

func newFragmentSignCommand() *cobra.Command {
	f := &fragmentSignFlags{}
	cmd := &cobra.Command{
		Use:   "sign --key KEY.pem --chain CHAIN.pem --feed FEED FILE.rego",
		Short: "Sign a fragment: a COSE_Sign1 envelope on stdout, as sign1util makes it for confcom",
		Long: `sign writes the COSE_Sign1 envelope confcom's acifragmentgen --key --chain
makes with sign1util: content type application/unknown+rego, the chain
(leaf first, at least one CA after it) in x5chain, and the protected
headers iss (the chain's did:x509, ::subject:CN:<leaf CN>) and feed, both of
which the guest requires. The fragment is checked first as the guest will
read it (first line package <namespace>, namespace not reserved).`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			payload, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if _, err := fragment.Namespace(payload); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out, err := f.sign(payload)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f.addFlags(cmd)
	for _, name := range []string{"key", "chain", "feed"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newFragmentVerifyCommand() *cobra.Command {
	var opts fragment.VerifyOptions
	cmd := &cobra.Command{
		Use:   "verify [--minimum-svn N] FILE.cose",
		Short: "Check a signed fragment as the guest does before it loads it",
		Long: `verify checks, in the guest's order: the COSE_Sign1 envelope, the certificate
chain, the signature, that iss and feed are both present, that iss resolves
as a did:x509 against the chain, that the first line is package <namespace>
with a namespace that is not reserved, and the svn (at least --minimum-svn).
It prints the issuer, feed, namespace and svn; a failure names the check.`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := verifyFile(cmd, args[0], opts.MinimumSVN)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "issuer: %s\nfeed: %s\nnamespace: %s\nsvn: %s\nalgorithm: %s\ncontent type: %s\n",
				f.Issuer, f.Feed, f.Namespace, f.SVN, f.Algorithm, f.ContentType)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.MinimumSVN, "minimum-svn", "", "refuse a fragment whose svn is lower")
	return cmd
}

// verifyFile reads and verifies a signed fragment, and returns the bytes
// it verified.
func verifyFile(cmd *cobra.Command, path, minimumSVN string) (*fragment.Fragment, []byte, error) {
	if minimumSVN != "" && !ccpolicy.IsDigits(minimumSVN) {
		return nil, nil, fmt.Errorf("--minimum-svn: %q is not a number", minimumSVN)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := fragment.Verify(cmd.Context(), raw, fragment.VerifyOptions{MinimumSVN: minimumSVN})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the guest would refuse it: %w", path, err)
	}
	return f, raw, nil
}

func newFragmentImportCommand() *cobra.Command {
	var minimumSVN string
	cmd := &cobra.Command{
		Use:   "import [--minimum-svn N] FILE.cose",
		Short: "Print the import JSON az confcom acifragmentgen --generate-import prints",
		Long: `import verifies a signed fragment (as verify does) and prints the
{"fragments": [...]} JSON confcom's --generate-import prints: issuer, feed,
minimum_svn (by default the fragment's own svn) and includes. Give it to
confcom's --fragments-json, or copy the entry into a base policy's imports.`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := verifyFile(cmd, args[0], "")
			if err != nil {
				return err
			}
			out, err := fragment.ImportJSON(fragment.ImportOf(f, minimumSVN))
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&minimumSVN, "minimum-svn", "", "the import's minimum_svn (digits); by default the fragment's svn")
	return cmd
}

func newFragmentAttachCommand() *cobra.Command {
	var ref, platform string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "attach --image REF FILE.cose",
		Short: "Push a signed fragment as an OCI referrer of the image's linux/amd64 manifest",
		Long: `attach verifies a signed fragment (as verify does) and pushes it as an OCI
referrer of the image's platform manifest (not of a multi-platform index,
where the guest would not find it), with artifactType
` + fragment.ArtifactType + ` and one layer of media type
` + fragment.LayerMediaType + `, as confcom's fragment attach does. Registries
without the referrers API get the referrers tag schema. It prints the
referrer's digest. Credentials come from the docker config, as for cocofy.`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The bytes verified are the bytes pushed.
			f, raw, err := verifyFile(cmd, args[0], "")
			if err != nil {
				return err
			}
			d, err := fragment.Attach(cmd.Context(), ref, raw, fragment.AttachOptions{
				Keychain: registry.Keychain(), Insecure: insecure, Platform: platform,
				Title: attachTitle(args[0], f.Namespace),
			})
			if err != nil {
				return fmt.Errorf("attaching %s to %s: %w", args[0], ref, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), d.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&ref, "image", "", "the image the fragment is for")
	cmd.Flags().StringVar(&platform, "platform", image.DefaultPlatform, "the manifest of a multi-platform image to attach to")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to the registry")
	_ = cmd.MarkFlagRequired("image")
	return cmd
}

// attachTitle is the layer's file name: the file's own when it ends in
// .rego.cose (confcom's discovery globs that), else <namespace>.rego.cose.
func attachTitle(path, namespace string) string {
	if base := filepath.Base(path); strings.HasSuffix(base, ".rego.cose") {
		return base
	}
	return namespace + ".rego.cose"
}
