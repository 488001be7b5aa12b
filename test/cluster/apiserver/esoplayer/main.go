// Command eso-player plays the External Secrets Operator's part in tests, through the real API
// server: it marks ExternalSecrets as synced the way ESO does (status.syncedResourceVersion is
// "<generation>-<sha3-224 of the labels and annotations>", refreshTime, the Ready condition),
// and copies external-secrets.io/force-sync from a ClusterExternalSecret to its children, as
// ESO's CES controller does. It never reads a provider.
//
// The annotation eso-player/behaviour on an ExternalSecret chooses what happens on a change:
// "sync" (default), "fail" (Ready=False, reason SecretSyncedError) or "ignore" (never answers).
// With -only-triggered (the default) it acts only on objects that carry a trigger annotation, so a
// test controls when the first sync happens.
package main

import (
	"context"
	"crypto/sha3"
	"flag"
	"fmt"
	"log"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

const forceSync = "external-secrets.io/force-sync"

var (
	externalSecrets = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
	clusterSecrets  = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "clusterexternalsecrets"}
)

// resourceVersion is ESO's ctrlutil.GetResourceVersion, written from its documented behaviour.
func resourceVersion(obj *unstructured.Unstructured) string {
	type meta struct {
		annotations map[string]string
		labels      map[string]string
	}
	text := fmt.Sprintf("%+v", meta{annotations: obj.GetAnnotations(), labels: obj.GetLabels()})
	return fmt.Sprintf("%d-%x", obj.GetGeneration(), sha3.Sum224([]byte(text)))
}

func setReady(obj *unstructured.Unstructured, status, reason, message string) {
	cond := map[string]interface{}{
		"type": "Ready", "status": status, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}
	_ = unstructured.SetNestedSlice(obj.Object, []interface{}{cond}, "status", "conditions")
}

func readyReason(obj *unstructured.Unstructured) string {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]interface{}); ok && m["type"] == "Ready" {
			reason, _ := m["reason"].(string)
			return reason
		}
	}
	return ""
}

func triggered(obj *unstructured.Unstructured) bool {
	a := obj.GetAnnotations()
	return a["force-sync"] != "" || a[forceSync] != ""
}

func reconcile(ctx context.Context, client dynamic.Interface, namespace string, onlyTriggered bool) {
	list, err := client.Resource(externalSecrets).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		log.Printf("list: %v", err)
		return
	}
	for i := range list.Items {
		es := &list.Items[i]
		want := resourceVersion(es)
		synced, _, _ := unstructured.NestedString(es.Object, "status", "syncedResourceVersion")
		behaviour := es.GetAnnotations()["eso-player/behaviour"]
		if synced == want || behaviour == "ignore" || (onlyTriggered && !triggered(es)) {
			continue
		}
		if behaviour == "fail" {
			if readyReason(es) == "SecretSyncedError" {
				continue
			}
			setReady(es, "False", "SecretSyncedError", "could not get secret data from provider")
		} else {
			_ = unstructured.SetNestedField(es.Object, want, "status", "syncedResourceVersion")
			_ = unstructured.SetNestedField(es.Object, time.Now().UTC().Format(time.RFC3339), "status", "refreshTime")
			setReady(es, "True", "SecretSynced", "secret synced")
		}
		if _, err := client.Resource(externalSecrets).Namespace(namespace).UpdateStatus(ctx, es, metav1.UpdateOptions{}); err != nil {
			log.Printf("update status %s: %v", es.GetName(), err)
		}
	}
	propagateForceSync(ctx, client, namespace, list)
}

// propagateForceSync copies a parent CES's force-sync annotation onto its children.
func propagateForceSync(ctx context.Context, client dynamic.Interface, namespace string, list *unstructured.UnstructuredList) {
	for i := range list.Items {
		es := &list.Items[i]
		for _, owner := range es.GetOwnerReferences() {
			if owner.Kind != "ClusterExternalSecret" {
				continue
			}
			parent, err := client.Resource(clusterSecrets).Get(ctx, owner.Name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			value := parent.GetAnnotations()[forceSync]
			if value == "" || es.GetAnnotations()[forceSync] == value {
				continue
			}
			annotations := es.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[forceSync] = value
			es.SetAnnotations(annotations)
			if _, err := client.Resource(externalSecrets).Namespace(namespace).Update(ctx, es, metav1.UpdateOptions{}); err != nil {
				log.Printf("update %s: %v", es.GetName(), err)
			}
		}
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	namespace := flag.String("namespace", "", "namespace to play ESO in")
	duration := flag.Duration("duration", 60*time.Second, "stop after this long")
	onlyTriggered := flag.Bool("only-triggered", true, "act only on objects with a trigger annotation")
	flag.Parse()
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	client := dynamic.NewForConfigOrDie(config)
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			reconcile(ctx, client, *namespace, *onlyTriggered)
		}
	}
}
