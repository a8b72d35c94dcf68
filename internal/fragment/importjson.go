package fragment

import (
	"strings"

	"cocofy.dev/cocofy/internal/ccpolicy"
)

// Import is one entry of a base policy's fragments list.
type Import struct {
	Feed       string
	Includes   []string
	Issuer     string
	MinimumSVN string
}

// ImportOf is the import statement confcom's cose_proxy
// generate_import_from_path makes of a signed fragment: its issuer and
// feed, minimum_svn (by default the fragment's own svn), and includes
// "containers" and "fragments" when the Rego has "containers := " and
// "fragments := ".
func ImportOf(f *Fragment, minimumSVN string) Import {
	if minimumSVN == "" {
		minimumSVN = f.SVN
	}
	includes := []string{}
	if strings.Contains(string(f.Payload), "containers := ") {
		includes = append(includes, "containers")
	}
	if strings.Contains(string(f.Payload), "fragments := ") {
		includes = append(includes, "fragments")
	}
	return Import{Feed: f.Feed, Includes: includes, Issuer: f.Issuer, MinimumSVN: minimumSVN}
}

// ImportJSON is what `az confcom acifragmentgen --generate-import` prints:
// {"fragments": [imports…]}, as Python's json.dumps(indent=2,
// sort_keys=True) writes it, and a newline.
func ImportJSON(imports ...Import) ([]byte, error) {
	list := []any{}
	for _, i := range imports {
		list = append(list, map[string]any{
			"feed": i.Feed, "includes": i.Includes, "issuer": i.Issuer, "minimum_svn": i.MinimumSVN,
		})
	}
	out, err := ccpolicy.PrettyJSON(map[string]any{"fragments": list})
	if err != nil {
		return nil, err
	}
	return []byte(out + "\n"), nil
}
