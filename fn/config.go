package fn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/atomicfile"
	"cocofy.dev/cocofy/pipeline"
)

// Config identity.
const (
	APIVersion = "cocofy.dev/v1alpha1"
	Kind       = "Cocofy"
)

// Config is cocofy's configuration: the kpt/kustomize functionConfig, the
// file given with --config, or the file named by COCOFY_CONFIG. All three are
// the same object.
type Config struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	// Spec is the pipeline's options; see pipeline.Options for each field.
	Spec pipeline.Options `yaml:"spec,omitempty" json:"spec,omitempty"`

	// dir is the folder relative paths in Spec are resolved against.
	dir string
}

// Metadata is the part of ObjectMeta a config may carry.
type Metadata struct {
	Name        string            `yaml:"name,omitempty" json:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Default fills what the user left empty: apiVersion and kind, and the
// spec's defaults (pipeline.Options.Default).
func (c *Config) Default() error {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	c.Spec.Default()
	return nil
}

// Validate reports every problem at once, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	if c.APIVersion != APIVersion {
		errs = append(errs, fmt.Errorf("apiVersion: must be %q, got %q", APIVersion, c.APIVersion))
	}
	if c.Kind != Kind {
		errs = append(errs, fmt.Errorf("kind: must be %q, got %q", Kind, c.Kind))
	}
	return errors.Join(append(errs, c.Spec.Validate())...)
}

// LockFile returns the lock file path resolved against the config's folder.
func (c *Config) LockFile() string {
	f := c.Spec.Images.LockFile
	if f == "" || filepath.IsAbs(f) || c.dir == "" {
		return f
	}
	return filepath.Join(c.dir, f)
}

// ParseConfig decodes a config object: a Cocofy object (unknown fields are
// errors), or a ConfigMap whose data keys are spec fields (kpt fn eval
// -- target=contrast). dir resolves relative paths. The result is defaulted
// and validated.
//
// The YAML is checked as the input stream is before anything reads it
// (pipeline.CheckYAML: duplicate keys, aliases past their limit), and
// every unknown field is named by its path with the closest known field.
func ParseConfig(data []byte, dir string) (*Config, error) {
	doc, err := configDocument(data)
	if err != nil {
		return nil, err
	}
	kind := stringValue(yaml.NewRNode(doc).Field("kind"))
	c := &Config{}
	var errs []error
	switch {
	case kind == "ConfigMap":
		if err := c.fromConfigMap(doc); err != nil {
			return nil, err
		}
	case kind == Kind || kind == "":
		errs = unknownFields(doc, reflect.TypeOf(c).Elem(), "")
		if err := doc.Decode(c); err != nil {
			// A value of the wrong type: reported with the others (the
			// rest of the config is decoded).
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, fmt.Errorf("reading config: %w", err)
			}
			for _, e := range te.Errors {
				errs = append(errs, errors.New(namePath(doc, e, goKinds(reflect.TypeOf(c)))))
			}
		}
	default:
		return nil, fmt.Errorf("reading config: kind %q is not accepted; use apiVersion %s kind %s, or a ConfigMap", kind, APIVersion, Kind)
	}
	c.dir = dir
	if err := c.Default(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid config:\n%w", errors.Join(errs...))
	}
	return c, nil
}

// configDocument parses a config's one document and checks it with the
// stream's YAML checks. It returns the document's mapping node.
func configDocument(data []byte) (*yaml.Node, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		if len(n.Content) > 0 && !yaml.IsYNodeEmptyDoc(&n) {
			docs = append(docs, n.Content[0])
		}
	}
	switch {
	case len(docs) == 0:
		return nil, fmt.Errorf("reading config: it is empty; want apiVersion %s kind %s, or a ConfigMap", APIVersion, Kind)
	case len(docs) > 1:
		return nil, fmt.Errorf("reading config: it has %d YAML documents; want one object (apiVersion %s kind %s, or a ConfigMap)", len(docs), APIVersion, Kind)
	case docs[0].Kind != yaml.MappingNode:
		return nil, fmt.Errorf("reading config: want an object (apiVersion %s kind %s, or a ConfigMap), got a YAML %s", APIVersion, Kind, nodeKind(docs[0]))
	}
	rep := &pipeline.Report{}
	if !pipeline.CheckYAML([]*yaml.RNode{yaml.NewRNode(docs[0])}, rep) {
		var errs []error
		for _, res := range rep.Results {
			msg := documentPrefix.ReplaceAllString(res.Message, "")
			if res.Field != nil && res.Field.Path != "" {
				msg = res.Field.Path + ": " + msg
			}
			errs = append(errs, errors.New(msg))
		}
		return nil, fmt.Errorf("reading config:\n%w", errors.Join(errs...))
	}
	return docs[0], nil
}

// typeError is how go.yaml.in/yaml/v3 reports a value of the wrong type:
// line, tag, the value for a scalar, and the Go type.
var typeError = regexp.MustCompile("^line ([0-9]+): cannot unmarshal !!([a-z]+)(?: `(.*)`)? into (.*)$")

// namePath rewrites a type error's "line N" to the path of the value it
// is about, when one value on that line fits it, and its Go type to what
// the config wants in YAML's words (kinds maps Go type names to kinds).
func namePath(doc *yaml.Node, msg string, kinds map[string]reflect.Kind) string {
	m := typeError.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	what := map[string]string{"map": "a map", "seq": "a list"}[m[2]]
	if m[3] != "" {
		what = fmt.Sprintf("%q", m[3])
	} else if what == "" {
		what = "!!" + m[2]
	}
	want := kindWords(kinds[strings.TrimLeft(m[4], "*")])
	found := valuesAt(doc, line, m[2], m[3])
	if len(found) != 1 {
		return fmt.Sprintf("line %d: cannot read %s as %s", line, what, want)
	}
	return fmt.Sprintf("%s: cannot read %s as %s", found[0], what, want)
}

// valuesAt returns the paths of the values on line with the tag and
// value of a type error; of a value and the values inside it, only the
// innermost (a block map or list starts on its first entry's line).
func valuesAt(doc *yaml.Node, line int, tag, value string) []string {
	var found []string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Line == line && path != "" && strings.TrimPrefix(n.ShortTag(), "!!") == tag && (n.Kind != yaml.ScalarNode || n.Value == value) {
			found = append(found, path)
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], joinField(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(doc, "")
	all := slices.Clone(found)
	return slices.DeleteFunc(found, func(p string) bool {
		return slices.ContainsFunc(all, func(q string) bool {
			return strings.HasPrefix(q, p+".") || strings.HasPrefix(q, p+"[")
		})
	})
}

// goKinds maps the names of the Go types in t (as yaml.v3's errors spell
// them) to their kinds, so that messages say what the config wants
// without naming Go types.
func goKinds(t reflect.Type) map[string]reflect.Kind {
	kinds := map[string]reflect.Kind{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		if _, seen := kinds[t.String()]; seen {
			return
		}
		kinds[t.String()] = t.Kind()
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			add(t.Elem())
		case reflect.Map:
			add(t.Key())
			add(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				add(t.Field(i).Type)
			}
		}
	}
	add(t)
	return kinds
}

// kindWords says what a value of kind k is in YAML's words.
func kindWords(k reflect.Kind) string {
	switch k {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "a map"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a string"
}

// documentPrefix is how CheckYAML names the document; a config has one.
var documentPrefix = regexp.MustCompile(`^document [0-9]+( \([^)]*\))?: `)

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

// stringValue is a scalar field's value, "" for anything else.
func stringValue(f *yaml.MapNode) string {
	if f == nil || f.Value.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return f.Value.YNode().Value
}

// unknownFields reports, in document order, every mapping key under n
// that t (a struct, or what holds one) has no YAML field for, each by its
// path with the closest known name.
func unknownFields(n *yaml.Node, t reflect.Type, path string) []error {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return nil
	}
	var errs []error
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == yaml.MergeTag {
				// << merges maps into this one: their keys are this struct's.
				vs := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					vs = v.Content
				}
				for _, m := range vs {
					errs = append(errs, unknownFields(m, t, path)...)
				}
				continue
			}
			key := k.Value
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				key = k.Alias.Value
			}
			ft, ok := fields.types[key]
			if !ok {
				errs = append(errs, unknownField(joinField(path, key), key, fields.names))
				continue
			}
			errs = append(errs, unknownFields(v, ft, joinField(path, key))...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, unknownFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, unknownFields(n.Content[i+1], t.Elem(), joinField(path, n.Content[i].Value))...)
		}
	}
	return errs
}

func joinField(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields are a struct's YAML field names, in declaration order, and
// their types.
type structFields struct {
	names []string
	types map[string]reflect.Type
}

// yamlFields lists t's fields as go.yaml.in/yaml/v3 names them: the yaml
// tag's name, else the lowercased Go name; inline structs add theirs.
func yamlFields(t reflect.Type) structFields {
	out := structFields{types: map[string]reflect.Type{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			inner := yamlFields(f.Type)
			out.names = append(out.names, inner.names...)
			maps.Copy(out.types, inner.types)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out.names = append(out.names, name)
		out.types[name] = f.Type
	}
	return out
}

// unknownField says that key (at path) is not one of known, suggesting
// the closest when one is close.
func unknownField(path, key string, known []string) error {
	if s := suggest(key, known); s != "" {
		return fmt.Errorf("%s: unknown field; did you mean %s?", path, s)
	}
	return fmt.Errorf("%s: unknown field (known: %s)", path, strings.Join(known, ", "))
}

// suggest returns the known name closest to key (case aside, a swap of
// two letters counting as one edit), or "" when none is within two edits
// and a third of key's length. Ties go to the earlier name.
func suggest(key string, known []string) string {
	best, bestD := "", min(2, len(key)/3+1)+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// configMapKeys are the data keys a ConfigMap config accepts.
var configMapKeys = []string{"target", "runtimeClassName", "overwrite", "pin", "lockFile", "lockMode", "missing"}

// fromConfigMap maps flat data keys onto spec fields. Problems are
// reported in the keys' sorted order.
func (c *Config) fromConfigMap(doc *yaml.Node) error {
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := doc.Decode(&cm); err != nil {
		return fmt.Errorf("reading config ConfigMap: %w", err)
	}
	var errs []error
	s := &c.Spec
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		v := cm.Data[k]
		switch k {
		case "target":
			s.Target = pipeline.Target(v)
		case "runtimeClassName":
			s.RuntimeClassName = v
		case "overwrite":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("data.overwrite: must be true or false, got %q", v))
			}
			s.Overwrite = b
		case "pin":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("data.pin: must be true or false, got %q", v))
			}
			s.Images.Pin = &b
		case "lockFile":
			s.Images.LockFile = v
		case "lockMode":
			s.Images.LockMode = v
		case "missing":
			s.Resources.Missing = pipeline.Missing(v)
		default:
			msg := fmt.Sprintf("data.%s: unknown key", k)
			if sug := suggest(k, configMapKeys); sug != "" {
				msg += "; did you mean " + sug + "?"
			}
			errs = append(errs, fmt.Errorf("%s (accepted: %s)", msg, strings.Join(configMapKeys, ", ")))
		}
	}
	return errors.Join(errs...)
}

// MaxConfigSize bounds a config file: it is read only when it is a regular
// file of at most this size (not a device, a FIFO or a runaway file).
const MaxConfigSize = 4 << 20

// LoadConfigFile reads a config file; relative paths in it are relative to
// its folder.
func LoadConfigFile(path string) (*Config, error) {
	data, err := atomicfile.Read(path, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := ParseConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
