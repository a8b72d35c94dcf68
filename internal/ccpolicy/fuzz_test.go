package ccpolicy

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"gotest.tools/v3/assert"
)

// FuzzCanonicalJSON checks the Python-compatible encoder on arbitrary JSON
// documents, and on arbitrary bytes used as a string: the output is ASCII,
// parses back (with encoding/json) to the same value, is the same when
// encoded again, and the pretty and compact forms agree.
func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`))
	f.Add([]byte(`["é\u2028😀\u007f\u0001\t\"\\ </script> &amp;"]`))
	f.Add([]byte(`[1e16,1e-5,-0.0,1.5,100.0,1e22,5e-324,12345678901234567890123,-0]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Arbitrary bytes as one string (invalid UTF-8 becomes U+FFFD per
		// byte in both encoders).
		s := string(data)
		out, err := compactJSON.encode(map[string]any{"k": []any{s}})
		assert.NilError(t, err)
		checkASCII(t, out)
		var got, want any
		assert.NilError(t, json.Unmarshal([]byte(out), &got))
		ref, err := json.Marshal(map[string]any{"k": []any{s}})
		assert.NilError(t, err)
		assert.NilError(t, json.Unmarshal(ref, &want))
		assert.DeepEqual(t, got, want)
		if utf8.ValidString(s) {
			assert.Equal(t, got.(map[string]any)["k"].([]any)[0], s)
		}

		// The bytes as a JSON document.
		if json.Unmarshal(data, &want) != nil {
			return // not JSON, or numbers out of float64 range (Python prints Infinity)
		}
		doc, err := parseOrderedJSON(string(data))
		if err != nil {
			return
		}
		for _, w := range []jsonWriter{compactJSON, prettyJSON, plainJSON} {
			out, err := w.encode(doc)
			assert.NilError(t, err)
			checkASCII(t, out)
			var got any
			assert.NilError(t, json.Unmarshal([]byte(out), &got), "%s", out)
			assert.DeepEqual(t, got, want)
			again, err := parseOrderedJSON(out)
			assert.NilError(t, err)
			out2, err := w.encode(again)
			assert.NilError(t, err)
			assert.Equal(t, out2, out)
		}
	})
}

func checkASCII(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			t.Fatalf("non-ASCII byte %#x at %d in %q", s[i], i, s)
		}
	}
}
