package pipeline_test

import (
	"context"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

func ExamplePipeline_Run() {
	nodes, _ := kio.FromBytes([]byte(`apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
    resources:
      limits: {cpu: 500m, memory: 256Mi}
`))
	p, _ := pipeline.New(pipeline.Options{Target: pipeline.TargetContrast}, pipeline.Deps{Resolver: fixed.Resolver{}})
	rep, err := p.Run(context.Background(), nodes)
	if err != nil {
		fmt.Println(err)
	}
	out, _ := kio.StringAll(nodes)
	fmt.Print(out)
	fmt.Println(len(rep.Results), "results")
	// Output:
	// apiVersion: v1
	// kind: Pod
	// metadata:
	//   name: web
	// spec:
	//   containers:
	//   - name: app
	//     image: nginx:1.27@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65
	//     resources:
	//       limits: {cpu: 500m, memory: 256Mi}
	//       requests:
	//         cpu: 500m
	//         memory: 256Mi
	//   runtimeClassName: contrast-cc
	// 5 results
}
