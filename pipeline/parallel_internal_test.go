package pipeline

import (
	"context"
	"testing"

	"gotest.tools/v3/assert"
)

// A panic for one key is that key's error; the others are done.
func TestForEachKeyRecovers(t *testing.T) {
	vals, errs := forEachKey(context.Background(), []string{"a", "b"}, func(_ context.Context, k string) (int, error) {
		if k == "a" {
			panic("boom")
		}
		return 1, nil
	})
	assert.Equal(t, vals["b"], 1)
	assert.ErrorContains(t, errs["a"], "internal error (a bug in cocofy, please report it): boom")
}
