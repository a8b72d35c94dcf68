package fn

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

func parseQuantity(s string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, fmt.Errorf("invalid quantity %q: %w", s, err)
	}
	return q, nil
}
