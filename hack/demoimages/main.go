// Command demoimages pushes the images that the bundled examples use to a
// registry (by default localhost:5001, e.g. `crane registry serve --address
// 127.0.0.1:5001`). The images are built deterministically, so their
// digests, and examples/images.lock.yaml, are the same on every machine.
package main

import (
	"archive/tar"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"cocofy.dev/cocofy/internal/testing/registrytest"
)

type fatal struct{}

func (fatal) Helper()                        {}
func (fatal) Fatal(args ...any)              { log.Fatal(args...) }
func (fatal) Fatalf(format string, a ...any) { log.Fatalf(format, a...) }
func (fatal) Cleanup(func())                 {}

func main() {
	reg := flag.String("registry", "localhost:5001", "registry to push to (plain HTTP)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("demoimages: ")
	var t fatal
	rootfs := func(seed string) v1.Layer {
		return registrytest.Layer(t,
			registrytest.File{Name: "bin/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "bin/sh", Body: "#!demo shell " + seed + "\n", Mode: 0o755},
			registrytest.File{Name: "etc/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "etc/os-release", Body: "ID=cocofy-demo\nVERSION_ID=" + seed + "\n"},
			registrytest.File{Name: "usr/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "usr/bin", Typeflag: tar.TypeSymlink, Linkname: "../bin"},
		)
	}
	app := func(seed, path string) v1.Layer {
		return registrytest.Layer(t,
			registrytest.File{Name: "srv/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "srv/" + path, Body: "demo binary " + seed + "\n", Mode: 0o755},
		)
	}
	path := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	images := map[string]any{
		"cocofy-demo/web:1.4": registrytest.Image(t, "web", "linux/amd64", v1.Config{
			Entrypoint: []string{"/srv/web"}, Cmd: []string{"--listen", ":8080"}, Env: path,
			WorkingDir: "/srv", User: "65532", StopSignal: "SIGQUIT"}, rootfs("base"), app("web-1.4", "web")),
		"cocofy-demo/web:1.5": registrytest.Image(t, "web", "linux/amd64", v1.Config{
			Entrypoint: []string{"/srv/web"}, Cmd: []string{"--listen", ":8080"}, Env: path,
			WorkingDir: "/srv", User: "65532", StopSignal: "SIGQUIT"}, rootfs("base"), app("web-1.5", "web")),
		"cocofy-demo/api:2.0": registrytest.Index(t, "api", v1.Config{Entrypoint: []string{"/srv/api"}, Env: path},
			"linux/amd64", "linux/arm64"),
		"cocofy-demo/tools:1.0": registrytest.Image(t, "tools", "linux/amd64", v1.Config{
			Cmd: []string{"/bin/sh"}, Env: path}, rootfs("base")),
	}
	for ref, img := range images {
		tag, err := name.NewTag(*reg + "/" + ref)
		if err != nil {
			log.Fatal(err)
		}
		switch v := img.(type) {
		case v1.Image:
			err = remote.Write(tag, v)
		case v1.ImageIndex:
			err = remote.WriteIndex(tag, v)
		}
		if err != nil {
			log.Fatalf("pushing %s: %v", tag, err)
		}
		d, _ := img.(interface{ Digest() (v1.Hash, error) }).Digest()
		fmt.Fprintf(os.Stderr, "pushed %s@%s\n", tag, d)
	}
}
