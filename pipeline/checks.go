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
	p.checkHostAccess(w, rep)
	p.checkInjectors(w, rep)
	p.checkPlatformEnv(w, rep)
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

// hostShared names what each host* field would share.
var hostShared = map[string]string{"hostNetwork": "network", "hostPID": "process IDs", "hostIPC": "IPC namespace"}

// checkHostAccess warns about a pod that asks for the node it runs on:
// in a pod VM (or a virtual node's container group) there is no such node
// to share.
func (p *Pipeline) checkHostAccess(w *Workload, rep *Report) {
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if v, _ := w.Spec.GetFieldValue(f); v == true {
			rep.Warn(w, w.Field("spec", f), "%s is not supported in a pod VM (%s): the pod does not share the node's %s", f, p.opts.Target, hostShared[f])
		}
	}
	vols := valueAt(w.Spec, "volumes")
	if vols == nil || p.opts.Target != TargetVirtualNode {
		return
	}
	for _, v := range vols.Content() {
		vn := yaml.NewRNode(v)
		if vn.Field("hostPath") == nil {
			continue
		}
		name, _ := vn.GetString("name")
		rep.Warn(w, w.Field("spec", "volumes[name="+name+"]", "hostPath"), "a virtual node has no host to share: the hostPath volume is not the node's folder")
	}
}

// onVirtualNode reports whether target virtual-node places w: a DaemonSet
// stays on the regular nodes (virtual nodes run no DaemonSets), with a
// warning.
func (p *Pipeline) onVirtualNode(w *Workload, rep *Report) bool {
	if p.opts.Target != TargetVirtualNode {
		return false
	}
	if w.Ref.Kind == "DaemonSet" {
		rep.Warn(w, "", "virtual nodes run no DaemonSets: it stays on the regular nodes, not placed and with no CCE policy")
		return false
	}
	return true
}

// checkPlatformEnv says what becomes of the variables ACI adds for its
// managed identity to a pod that uses one, when the pod gets a policy.
func (p *Pipeline) checkPlatformEnv(w *Workload, rep *Report) {
	id := w.Template.GetAnnotations()[AnnotationIdentity]
	if id == "" || !p.opts.AttachPolicy() {
		return
	}
	rep.Info(w, w.Field("metadata", "annotations", AnnotationIdentity),
		"ACI is reported to add IDENTITY_ENDPOINT, APP_IDENTITY_ENDPOINT and IMDS_ENDPOINT to a confidential container group with a managed identity; the CCE policy has no rule for them, so the guest starts the containers without them (allow_environment_variable_dropping): code that finds the identity endpoint through them must be given it otherwise (see docs/policy.md)")
}
