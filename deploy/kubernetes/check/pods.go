package main

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func metaSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return nil, fmt.Errorf("no selector")
	}
	return metav1.LabelSelectorAsSelector(s)
}

func checkSelector(fail func(string, ...any), owner string, s *metav1.LabelSelector, template map[string]string) {
	selector, err := metaSelector(s)
	if err != nil {
		fail("%s: selector: %v", owner, err)
		return
	}
	if selector.Empty() || !selector.Matches(labels.Set(template)) {
		fail("%s: its selector does not match its pod template's labels", owner)
	}
}

func hasPort(spec corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func checkProbe(fail func(string, ...any), where string, probe *corev1.Probe, spec corev1.PodSpec) {
	if probe == nil {
		fail("%s: missing", where)
		return
	}
	if probe.HTTPGet == nil {
		fail("%s: Eddy's probes are HTTP GETs of /healthz and /readyz", where)
		return
	}
	if probe.HTTPGet.Path != "/healthz" && probe.HTTPGet.Path != "/readyz" {
		fail("%s: path %q is not /healthz or /readyz", where, probe.HTTPGet.Path)
	}
	if probe.HTTPGet.Port.Type == intstr.String && !hasPort(spec, probe.HTTPGet.Port.StrVal) {
		fail("%s: port %q is no container port", where, probe.HTTPGet.Port.StrVal)
	}
}

func checkPod(fail func(string, ...any), p podSpec, configMaps, claims, secrets map[string]bool) {
	volumes := map[string]bool{}
	for name := range p.claims {
		volumes[name] = true
	}
	for _, v := range p.spec.Volumes {
		volumes[v.Name] = true
		switch {
		case v.ConfigMap != nil && !configMaps[v.ConfigMap.Name]:
			fail("%s: volume %s: config map %q is not defined here", p.owner, v.Name, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil && !claims[v.PersistentVolumeClaim.ClaimName]:
			fail("%s: volume %s: claim %q is not defined here", p.owner, v.Name, v.PersistentVolumeClaim.ClaimName)
		case v.Secret != nil:
			secrets[v.Secret.SecretName] = true
		}
	}
	if len(p.spec.Containers) == 0 {
		fail("%s: no containers", p.owner)
	}
	for _, c := range p.spec.Containers {
		where := fmt.Sprintf("%s container %s", p.owner, c.Name)
		if c.Image == "" {
			fail("%s: no image", where)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			fail("%s: needs cpu and memory requests", where)
		}
		if c.Resources.Limits.Memory().IsZero() {
			fail("%s: needs a memory limit", where)
		}
		checkProbe(fail, where+" readinessProbe", c.ReadinessProbe, p.spec)
		checkProbe(fail, where+" livenessProbe", c.LivenessProbe, p.spec)
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				fail("%s: mounts volume %q, which the pod does not declare", where, m.Name)
			}
		}
	}
}
