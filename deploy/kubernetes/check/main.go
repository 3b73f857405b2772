// Command check validates Eddy's Kubernetes manifests without a cluster: every document is
// decoded strictly into the Kubernetes API types (k8s.io/api), so an unknown or misspelt field, a
// wrong type or an unknown kind fails, and then the references between the objects are checked
// as the API server and the controllers would need them: selectors that match their pods,
// probes and services that name existing ports, mounts of declared volumes, and claims and
// config maps that the manifests define. Secrets are the operator's to create: they are listed.
//
// Usage: check FILE.yaml... (exit 1 with every problem on stderr).
package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

type podSpec struct {
	owner  string
	labels map[string]string
	spec   corev1.PodSpec
	claims map[string]bool
}

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var pods []podSpec
	var services []*corev1.Service
	var budgets []*policyv1.PodDisruptionBudget
	configMaps, claims, secrets := map[string]bool{}, map[string]bool{}, map[string]bool{}
	objects := 0
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fail("%s: %v", file, err)
			continue
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			json, err := yaml.YAMLToJSON(doc)
			if err != nil {
				fail("%s document %d: not YAML: %v", file, i+1, err)
				continue
			}
			obj, _, err := decoder.Decode(json, nil, nil)
			if err != nil {
				fail("%s document %d: %v", file, i+1, err)
				continue
			}
			objects++
			switch o := obj.(type) {
			case *appsv1.Deployment:
				checkSelector(fail, "Deployment "+o.Name, o.Spec.Selector, o.Spec.Template.Labels)
				pods = append(pods, podSpec{"Deployment " + o.Name, o.Spec.Template.Labels, o.Spec.Template.Spec, nil})
			case *appsv1.StatefulSet:
				checkSelector(fail, "StatefulSet "+o.Name, o.Spec.Selector, o.Spec.Template.Labels)
				templates := map[string]bool{}
				for _, c := range o.Spec.VolumeClaimTemplates {
					templates[c.Name] = true
				}
				pods = append(pods, podSpec{"StatefulSet " + o.Name, o.Spec.Template.Labels, o.Spec.Template.Spec, templates})
				defer func(name, service string) {
					for _, s := range services {
						if s.Name == service {
							return
						}
					}
					fail("StatefulSet %s: serviceName %q is no Service here", name, service)
				}(o.Name, o.Spec.ServiceName)
			case *corev1.Service:
				services = append(services, o)
			case *policyv1.PodDisruptionBudget:
				budgets = append(budgets, o)
			case *corev1.ConfigMap:
				configMaps[o.Name] = true
			case *corev1.PersistentVolumeClaim:
				claims[o.Name] = true
			default:
				fail("%s document %d: kind %s is not one Eddy's manifests use", file, i+1, obj.GetObjectKind().GroupVersionKind().Kind)
			}
		}
	}
	for _, p := range pods {
		checkPod(fail, p, configMaps, claims, secrets)
	}
	for _, s := range services {
		matched := false
		for _, p := range pods {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.labels)) {
				matched = true
				for _, port := range s.Spec.Ports {
					if port.TargetPort.Type == intstr.String && !hasPort(p.spec, port.TargetPort.StrVal) {
						fail("Service %s: targetPort %q is no container port of %s", s.Name, port.TargetPort.StrVal, p.owner)
					}
				}
			}
		}
		if !matched {
			fail("Service %s: its selector matches no pod template here", s.Name)
		}
	}
	for _, b := range budgets {
		matched := false
		for _, p := range pods {
			selector, err := metaSelector(b.Spec.Selector)
			if err == nil && selector.Matches(labels.Set(p.labels)) {
				matched = true
			}
		}
		if !matched {
			fail("PodDisruptionBudget %s: its selector matches no pod template here", b.Name)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p)
		}
		os.Exit(1)
	}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Printf("ok: %d objects; secrets to create before applying: %s\n", objects, strings.Join(names, ", "))
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
