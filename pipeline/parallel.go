package pipeline

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// lookupConcurrency bounds parallel registry work (pins, image facts).
const lookupConcurrency = 16

// forEachKey calls fn once per key, at most lookupConcurrency at a time, and
// returns the values and the errors by key. Every key is tried: one
// failure does not stop the others, so that all are reported at once.
func forEachKey[V any](ctx context.Context, keys []string, fn func(context.Context, string) (V, error)) (map[string]V, map[string]error) {
	vals := make(map[string]V, len(keys))
	errs := map[string]error{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(lookupConcurrency)
	for _, k := range keys {
		g.Go(func() error {
			v, err := call(ctx, k, fn)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[k] = err
			} else {
				vals[k] = v
			}
			return nil
		})
	}
	_ = g.Wait()
	return vals, errs
}

// call is fn(ctx, k) with a panic in it as its error: a goroutine's panic
// cannot be recovered by the command, and would end the run with a stack
// trace instead of an error for one key.
func call[V any](ctx context.Context, k string, fn func(context.Context, string) (V, error)) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error (a bug in cocofy, please report it): %v", r)
		}
	}()
	return fn(ctx, k)
}
