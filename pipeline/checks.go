package pipeline

import (
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// contrastVolumeTypes are the volume types Contrast supports as filesystems
// (seed 001, "Volumes"). Other types become temporary in-VM copies.
var contrastVolumeTypes = map[string]bool{
	"configMap": true, "downwardAPI": true, "emptyDir": true,
	"ephemeral": true, "projected": true, "secret": true,
}

// check warns about pod features the target does not support.
func (p *Pipeline) check(w *Workload, rep *Report) {
	if hn, _ := w.Spec.GetFieldValue("hostNetwork"); hn == true {
		rep.Warn(w, w.Field("spec", "hostNetwork"), "host networking is not supported in a pod VM (%s)", p.opts.Target)
	}
	p.checkInjectors(w, rep)
	if p.opts.Target != TargetContrast {
		return
	}
	p.checkContrastClaims(w, rep)
	vols := valueAt(w.Spec, "volumes")
	if vols == nil {
		return
	}
	for _, v := range vols.Content() {
		vn := yaml.NewRNode(v)
		name, _ := vn.GetString("name")
		kinds, _ := vn.Fields()
		for _, kind := range kinds {
			if kind == "name" || contrastVolumeTypes[kind] {
				continue
			}
			msg := "volume type %s is not supported by Contrast: it becomes a temporary copy inside the VM and is never written back"
			if kind == "persistentVolumeClaim" {
				msg = "volume type %s works with Contrast only for volumeMode: Block claims; a filesystem claim becomes a temporary copy inside the VM"
			}
			rep.Warn(w, w.Field("spec", "volumes[name="+name+"]", kind), msg, kind)
		}
	}
}
