{{/* The chart's name. */}}
{{- define "eso-updater.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, used for every object. */}}
{{- define "eso-updater.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "eso-updater.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eso-updater.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "eso-updater.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "eso-updater.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "eso-updater.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "eso-updater.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "eso-updater.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "eso-updater.fullname" .)) .Values.credentials.existingSecret }}
{{- end }}

{{/* The namespaces serve watches with scope "namespaces". */}}
{{- define "eso-updater.watchNamespaces" -}}
{{- if .Values.watch.namespaces }}{{ join "," .Values.watch.namespaces }}{{ else }}{{ .Release.Namespace }}{{ end }}
{{- end }}

{{/* Fails on a scope other than cluster or namespaces. */}}
{{- define "eso-updater.clusterScope" -}}
{{- if eq .Values.watch.scope "cluster" }}true
{{- else if eq .Values.watch.scope "namespaces" }}
{{- else }}{{ fail (printf "watch.scope must be cluster or namespaces, not %q" .Values.watch.scope) }}
{{- end }}
{{- end }}

{{/*
The container's arguments after the image's entrypoint `eso-updater serve`: the scope (global
flags work after the command), then one entry per serve value that is set.
*/}}
{{- define "eso-updater.args" -}}
{{- $s := .Values.serve }}
{{- if include "eso-updater.clusterScope" . }}
- --all-namespaces
{{- else }}
- --namespace={{ include "eso-updater.watchNamespaces" . }}
{{- end }}
{{- with .Values.watch.labelSelector }}
- --selector={{ . }}
{{- end }}
{{- if not (kindIs "invalid" .Values.watch.chunkSize) }}
- --chunk-size={{ .Values.watch.chunkSize }}
{{- end }}
- --listen=0.0.0.0:{{ $s.port }}
{{- range $s.extraListen }}
- --listen={{ . }}
{{- end }}
- --credentials-dir=/etc/eso-updater/credentials
{{- if $s.tls.secretName }}
- --tls-cert=/etc/eso-updater/tls/tls.crt
- --tls-key=/etc/eso-updater/tls/tls.key
{{- if $s.tls.clientCA }}
- --tls-client-ca=/etc/eso-updater/tls/ca.crt
{{- end }}
{{- end }}
{{- range $flag, $key := dict "--insecure-no-auth" "insecureNoAuth" "--metrics-auth" "metricsAuth" "--no-index" "noIndex" "--stores" "stores" "--force" "force" "--include-possible" "includePossible" "--patch-children" "patchChildren" }}
{{- if index $s $key }}
- {{ $flag }}
{{- end }}
{{- end }}
{{- range $flag, $key := dict "--workers" "workers" "--provider" "provider" "--stores-refresh" "storesRefresh" "--queue" "queue" "--max-connections" "maxConnections" "--max-body" "maxBody" "--concurrency" "concurrency" "--phase-timeout" "phaseTimeout" "--drain-timeout" "drainTimeout" "--annotation" "annotation" "--cloudevents-key-path" "cloudeventsKeyPath" "--api-key-header" "apiKeyHeader" "--api-key-query" "apiKeyQuery" "--signature-tolerance" "signatureTolerance" "--watch-timeout" "watchTimeout" "--log-format" "logFormat" "--pubsub-audience" "pubsubAudience" "--pubsub-keys-url" "pubsubKeysUrl" "--verify-ca-file" "verifyCaFile" "--redelivery-window" "redeliveryWindow" }}
{{- $v := index $s $key }}
{{- if and (not (kindIs "invalid" $v)) (ne (toString $v) "") }}
- {{ $flag }}={{ $v }}
{{- end }}
{{- end }}
{{- range $s.eventTypes }}
- --event-type={{ . }}
{{- end }}
{{- range $s.keyPath }}
- --key-path={{ . }}
{{- end }}
{{- range $s.pubsubServiceAccounts }}
- --pubsub-service-account={{ . }}
{{- end }}
{{- range $s.snsTopicArns }}
- --sns-topic-arn={{ . }}
{{- end }}
{{- range $s.routeStores }}
- --route-store={{ . }}
{{- end }}
{{- range $s.routeProviders }}
- --route-provider={{ . }}
{{- end }}
{{- $t := .Values.triggerApi }}
{{- with $t.namespaces }}
- --trigger-namespaces={{ join "," . }}
{{- end }}
{{- with $t.maxWait }}
- --trigger-max-wait={{ . }}
{{- end }}
{{- if not (kindIs "invalid" $t.maxWaiting) }}
{{- /* serve's own rule, said at install time rather than as a crash-looping pod */}}
{{- $workers := int (kindIs "invalid" $s.workers | ternary 4 $s.workers) }}
{{- $waiting := int $t.maxWaiting }}
{{- if and (ge $waiting $workers) (or (gt $workers 1) (gt $waiting 1)) }}
{{- fail (printf "triggerApi.maxWaiting (%d) must be below serve.workers (%d): a waiting trigger holds a worker, and webhooks need one" $waiting $workers) }}
{{- end }}
- --trigger-max-waiting={{ $t.maxWaiting }}
{{- end }}
{{- range $s.extraArgs }}
- {{ . }}
{{- end }}
{{- end }}
