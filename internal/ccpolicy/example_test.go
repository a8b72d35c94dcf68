package ccpolicy_test

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/podspec"
)

// The samples/vn2/basic_command_args pod of confcom, with the facts of its
// image: the policy's sha256 is the pod's HOST_DATA.
func ExampleGenerate() {
	const ref = "mcr.microsoft.com/azurelinux/distroless/base@sha256:1e77d97e1e39f22ed9c52f49b3508b4c1044cec23743df9098ac44e025f654f2"
	pod := yaml.MustParse(`apiVersion: v1
kind: Pod
metadata:
  name: basic-command-args
spec:
  containers:
    - name: app
      image: ` + ref + `
      command: [/bin/sh]
      args: [-c, echo hello]
      env:
        - name: APP_MODE
          value: production
`)
	facts := map[string]image.Facts{ref: {
		OS: "linux", Architecture: "amd64",
		Config: image.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		Layers: []image.Layer{{RootHash: "243e1b3ce08093f2f0d9cd6a9eafde8737f64fec105ed59c346d309fbe760b58"}},
	}}
	p, err := ccpolicy.Generate(podspec.New("Pod", "", "basic-command-args", pod, nil), facts, podspec.Objects{}, ccpolicy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.SHA256)
	fmt.Println(len(p.Annotation()))
	// Output:
	// dfaa4571c52101798838afcf4ecaf4265377d55a8f3fb0a19547500f0e5d2f38
	// 8420
}
