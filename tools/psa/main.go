// psa-check evaluates rendered manifests with the Kubernetes Pod Security Admission library, the
// code the API server runs, so the tests prove "restricted-compliant" instead of restating it.
//
// It reads a multi-document YAML stream (`helm template` output) on stdin and, for every object
// carrying a pod spec (Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob), prints
// one JSON line:
//
//	{"kind","namespace","name","level","allowed","allowedAt":{"privileged","baseline","restricted"},
//	 "violations":["reason: detail"],"violationsAt":{"privileged","baseline","restricted"}}
//
// level is the enforce level of the namespace the pod lands in, read from the Namespace objects of
// the same stream (label pod-security.kubernetes.io/enforce, and enforce-version); a namespace not
// in the stream, or without the label, gets --default-level. allowed and violations are for that
// level; allowedAt and violationsAt evaluate the pod at every level (latest version). Exits 0
// unless the input cannot be parsed.
//
// Usage: helm template ... | psa-check [--default-level restricted] [--namespace default]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

// pod is one pod spec found in the stream, with the object that carries it.
type pod struct {
	kind, namespace, name string
	meta                  *metav1.ObjectMeta
	spec                  *corev1.PodSpec
}

type result struct {
	Kind       string          `json:"kind"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	Level      api.Level       `json:"level"`
	Allowed    bool            `json:"allowed"`
	AllowedAt  map[string]bool `json:"allowedAt"`
	Violations []string        `json:"violations"`
	// ViolationsAt lists, per level, what keeps the pod out of it.
	ViolationsAt map[string][]string `json:"violationsAt"`
}

func main() {
	defaultLevel := flag.String("default-level", "restricted", "enforce level of namespaces not in the stream or not labelled")
	releaseNamespace := flag.String("namespace", "default", "namespace of objects that name none (helm's release namespace)")
	flag.Parse()
	level, err := api.ParseLevel(*defaultLevel)
	if err != nil {
		fail(err)
	}
	defaults := api.Policy{Enforce: api.LevelVersion{Level: level, Version: api.LatestVersion()}}

	pods, labels, err := read(os.Stdin, *releaseNamespace)
	if err != nil {
		fail(err)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fail(err)
	}
	out := json.NewEncoder(os.Stdout)
	for _, p := range pods {
		// The library's own label parsing: an invalid label fails closed to restricted.
		enforce := defaults.Enforce
		if l, ok := labels[p.namespace]; ok {
			pol, _ := api.PolicyToEvaluate(l, defaults)
			enforce = pol.Enforce
		}
		r := result{Kind: p.kind, Namespace: p.namespace, Name: p.name, Level: enforce.Level, AllowedAt: map[string]bool{}, ViolationsAt: map[string][]string{}}
		for _, l := range []api.Level{api.LevelPrivileged, api.LevelBaseline, api.LevelRestricted} {
			r.AllowedAt[string(l)], r.ViolationsAt[string(l)] = evaluate(evaluator, api.LevelVersion{Level: l, Version: api.LatestVersion()}, p)
		}
		r.Allowed, r.Violations = evaluate(evaluator, enforce, p)
		if err := out.Encode(r); err != nil {
			fail(err)
		}
	}
}

// evaluate runs the library's checks for one level and version: allowed, and "reason: detail" of
// each failed check.
func evaluate(e policy.Evaluator, lv api.LevelVersion, p pod) (bool, []string) {
	agg := policy.AggregateCheckResults(e.EvaluatePod(lv, p.meta, p.spec))
	violations := []string{}
	for i, reason := range agg.ForbiddenReasons {
		if d := agg.ForbiddenDetails[i]; d != "" {
			reason += ": " + d
		}
		violations = append(violations, reason)
	}
	return agg.Allowed, violations
}

// read returns the pods in the stream and the labels of each Namespace object in it.
func read(in io.Reader, releaseNamespace string) ([]pod, map[string]map[string]string, error) {
	var pods []pod
	labels := map[string]map[string]string{}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(in))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return pods, labels, nil
		}
		if err != nil {
			return nil, nil, err
		}
		var head struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		ns := head.Metadata.Namespace
		if ns == "" {
			ns = releaseNamespace
		}
		// obj is decoded whole; meta and spec point into it.
		var obj any
		var meta *metav1.ObjectMeta
		var spec *corev1.PodSpec
		switch head.Kind {
		case "Namespace":
			labels[head.Metadata.Name] = head.Metadata.Labels
			continue
		case "Pod":
			o := &corev1.Pod{}
			obj, meta, spec = o, &o.ObjectMeta, &o.Spec
		case "Deployment":
			o := &appsv1.Deployment{}
			obj, meta, spec = o, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
		case "DaemonSet":
			o := &appsv1.DaemonSet{}
			obj, meta, spec = o, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
		case "StatefulSet":
			o := &appsv1.StatefulSet{}
			obj, meta, spec = o, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
		case "ReplicaSet":
			o := &appsv1.ReplicaSet{}
			obj, meta, spec = o, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
		case "Job":
			o := &batchv1.Job{}
			obj, meta, spec = o, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
		case "CronJob":
			o := &batchv1.CronJob{}
			obj, meta, spec = o, &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec
		default:
			continue
		}
		if err := yaml.Unmarshal(doc, obj); err != nil {
			return nil, nil, fmt.Errorf("%s %s/%s: %w", head.Kind, ns, head.Metadata.Name, err)
		}
		pods = append(pods, pod{kind: head.Kind, namespace: ns, name: head.Metadata.Name, meta: meta, spec: spec})
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "psa-check:", err)
	os.Exit(2)
}
