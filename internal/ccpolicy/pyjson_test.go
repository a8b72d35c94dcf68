package ccpolicy

import (
	"math"
	"math/big"
	"testing"

	"gotest.tools/v3/assert"
)

// The expected strings below were printed by Python 3.11's json.dumps.
func TestJSONMatchesPython(t *testing.T) {
	big1, _ := new(big.Int).SetString("12345678901234567890123", 10)
	tests := []struct {
		name string
		w    jsonWriter
		v    any
		want string
	}{
		{
			name: "ensure_ascii and no HTML escaping",
			w:    compactJSON,
			v:    map[string]any{"a<b>&/": "é\u2028😀\x7f\x01\t\"\\"},
			want: `{"a<b>&/":"\u00e9\u2028\ud83d\ude00\u007f\u0001\t\"\\"}`,
		},
		{
			name: "floats as repr, big ints exact",
			w:    jsonWriter{indent: false},
			v:    []any{1e16, 1e-5, math.Copysign(0, -1), 1.5, 100.0, 1e22, 123456789.123, 5e-324, math.MaxFloat64, math.Inf(1), big1},
			want: `[1e+16,1e-05,-0.0,1.5,100.0,1e+22,123456789.123,5e-324,1.7976931348623157e+308,Infinity,12345678901234567890123]`,
		},
		{
			name: "pretty, sorted, empty containers inline",
			w:    prettyJSON,
			v:    map[string]any{"b": []any{}, "a": map[string]any{}, "c": []any{1, map[string]any{"y": true, "x": nil}}},
			want: "{\n  \"a\": {},\n  \"b\": [],\n  \"c\": [\n    1,\n    {\n      \"x\": null,\n      \"y\": true\n    }\n  ]\n}",
		},
		{
			name: "insertion order without sort_keys",
			w:    plainJSON,
			v: func() *object {
				o := newObject()
				o.set("z", 1)
				o.set("a", []string{"x"})
				o.set("z", 2) // keeps its place, takes the value
				return o
			}(),
			want: `{"z":2,"a":["x"]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.w.encode(tc.v)
			assert.NilError(t, err)
			assert.Equal(t, got, tc.want)
		})
	}
}

func TestJSONUnsupportedType(t *testing.T) {
	_, err := compactJSON.encode(map[string]any{"a": []any{struct{}{}}})
	assert.ErrorContains(t, err, "a value that is none of null, a boolean, a number, a string, a list or a map")
}

func TestSeccompFixtureHash(t *testing.T) {
	// samples/vn2/seccomp_profile: {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
	// "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}
	got, err := seccompSHA256("eyJkZWZhdWx0QWN0aW9uIjoiU0NNUF9BQ1RfRVJSTk8iLCJkZWZhdWx0RXJybm9SZXQiOjEsInN5c2NhbGxzIjpbeyJuYW1lcyI6WyJyZWFkIiwid3JpdGUiXSwiYWN0aW9uIjoiU0NNUF9BQ1RfQUxMT1cifV19")
	assert.NilError(t, err)
	assert.Equal(t, got, "c2efb9a618661d9debbcb299daa768ffcd28db287d9750ca075e4e2b713402a7")
}
