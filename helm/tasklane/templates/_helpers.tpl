{{/*
Names, labels, images and the pieces of pod spec every component shares.
*/}}

{{- define "tasklane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every resource name; kept short enough for a pool name after it. */}}
{{- define "tasklane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 30 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 30 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 30 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tasklane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tasklane.apiName" -}}{{ include "tasklane.fullname" . }}-api{{- end }}
{{- define "tasklane.beatName" -}}{{ include "tasklane.fullname" . }}-beat{{- end }}
{{- define "tasklane.redisName" -}}{{ include "tasklane.fullname" . }}-redis{{- end }}
{{- define "tasklane.exporterName" -}}{{ include "tasklane.fullname" . }}-exporter{{- end }}
{{- define "tasklane.configName" -}}{{ include "tasklane.fullname" . }}-config{{- end }}
{{- define "tasklane.serviceAccountName" -}}{{ include "tasklane.fullname" . }}{{- end }}
{{- define "tasklane.autoscalerName" -}}{{ include "tasklane.fullname" . }}-autoscaler{{- end }}
{{- define "tasklane.kedaAuthName" -}}{{ include "tasklane.fullname" . }}-worker-keda{{- end }}
{{- define "tasklane.flowerName" -}}{{ include "tasklane.fullname" . }}-flower{{- end }}

{{/* The Deployment name of a pool: (dict "root" $ "pool" $pool) */}}
{{- define "tasklane.workerName" -}}
{{- printf "%s-worker-%s" (include "tasklane.fullname" .root) .pool.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select a component's pods: (dict "root" $ "component" "api") */}}
{{- define "tasklane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tasklane.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every label of a component's objects: (dict "root" $ "component" "api") */}}
{{- define "tasklane.labels" -}}
{{ include "tasklane.selectorLabels" . }}
app.kubernetes.io/part-of: tasklane
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "tasklane.chart" .root }}
{{- end }}

{{/* Pods carrying this label may reach Redis when network policies are on. */}}
{{- define "tasklane.redisClientLabel" -}}
tasklane.io/redis-client: "true"
{{- end }}

{{/* A tasklane image: (dict "root" $ "image" .Values.api.image) */}}
{{- define "tasklane.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion | toString }}
{{- if .root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* A third-party image with its own registry: redis, celery-exporter. */}}
{{- define "tasklane.externalImage" -}}
{{- if .registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .registry) .repository (toString .tag) }}
{{- else }}
{{- printf "%s:%s" .repository (toString .tag) }}
{{- end }}
{{- end }}

{{- define "tasklane.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where the Redis password lives: a dict with "name" and "key". */}}
{{- define "tasklane.redisSecret" -}}
{{- if .Values.redis.enabled }}
{{- if .Values.redis.auth.existingSecret }}
{{- dict "name" .Values.redis.auth.existingSecret "key" .Values.redis.auth.existingSecretKey | toJson }}
{{- else }}
{{- dict "name" (include "tasklane.redisName" .) "key" "password" | toJson }}
{{- end }}
{{- else }}
{{- dict "name" .Values.externalRedis.existingSecret "key" .Values.externalRedis.existingSecretKey | toJson }}
{{- end }}
{{- end }}

{{/* True (non-empty) when clients find the master through sentinels: the in-chart Sentinel
architecture, or externalRedis in its Sentinel form. */}}
{{- define "tasklane.redisSentinelMode" -}}
{{- if .Values.redis.enabled }}
{{- if eq .Values.redis.architecture "sentinel" }}true{{ end }}
{{- else if .Values.externalRedis.sentinel.addresses }}true{{ end }}
{{- end }}

{{/* quote.sh of both in-chart Redis ConfigMaps, sourced by their start commands: `quoted`
writes a value as a double-quoted Redis configuration string. A password from the user's own
Secret may hold `"` or `\`, which would otherwise end the string early. */}}
{{- define "tasklane.redisQuoteScript" -}}
quoted() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}
{{- end }}

{{/* The in-chart Redis pods' governing (headless) Service. */}}
{{- define "tasklane.redisHeadlessName" -}}{{ include "tasklane.redisName" . }}-headless{{- end }}

{{/* Each in-chart Redis pod's stable name, without a port: a JSON list, pod 0 first. */}}
{{- define "tasklane.redisPodHosts" -}}
{{- $hosts := list }}
{{- range $n := until (int .Values.redis.sentinel.replicas) }}
{{- $hosts = append $hosts (printf "%s-%d.%s.%s.svc" (include "tasklane.redisName" $) $n (include "tasklane.redisHeadlessName" $) $.Release.Namespace) }}
{{- end }}
{{- toJson $hosts }}
{{- end }}

{{/* The sentinels as host:port, a JSON list (empty without Sentinel). Clients are given every
in-chart pod by name rather than the sentinel Service: when one is gone they ask the next. */}}
{{- define "tasklane.redisSentinels" -}}
{{- if not (include "tasklane.redisSentinelMode" .) }}
{{- list | toJson }}
{{- else if .Values.redis.enabled }}
{{- $sentinels := list }}
{{- range $host := include "tasklane.redisPodHosts" . | fromJsonArray }}
{{- $sentinels = append $sentinels (printf "%s:26379" $host) }}
{{- end }}
{{- toJson $sentinels }}
{{- else }}
{{- toJson .Values.externalRedis.sentinel.addresses }}
{{- end }}
{{- end }}

{{- define "tasklane.redisMasterName" -}}
{{- if .Values.redis.enabled }}{{ .Values.redis.sentinel.masterName }}{{ else }}{{ .Values.externalRedis.sentinel.masterName }}{{ end }}
{{- end }}

{{/* The Redis database number. */}}
{{- define "tasklane.redisDatabase" -}}
{{- if .Values.redis.enabled }}0
{{- else if .Values.externalRedis.sentinel.addresses }}{{ .Values.externalRedis.sentinel.database }}
{{- else }}{{ trimPrefix "/" (urlParse .Values.externalRedis.url).path | default "0" }}
{{- end }}
{{- end }}

{{/* The Redis URL with no password in it; the services insert TASKLANE_REDIS_PASSWORD. With
Sentinel it names the master and gives the database: the sentinels give the address. */}}
{{- define "tasklane.redisUrl" -}}
{{- if include "tasklane.redisSentinelMode" . }}
{{- printf "redis://%s/%s" (include "tasklane.redisMasterName" .) (include "tasklane.redisDatabase" .) }}
{{- else if .Values.redis.enabled }}
{{- printf "redis://%s:6379/%s" (include "tasklane.redisName" .) (include "tasklane.redisDatabase" .) }}
{{- else }}
{{- .Values.externalRedis.url }}
{{- end }}
{{- end }}

{{/*
Where Redis answers for a client outside this namespace (KEDA's operator): a dict with
"address" (host:port), "database" and "tls", the in-chart Service by its namespaced name; with
Sentinel, "sentinels" (comma separated) and "masterName" instead of the address.
*/}}
{{- define "tasklane.redisAddress" -}}
{{- if include "tasklane.redisSentinelMode" . }}
{{- $sentinels := include "tasklane.redisSentinels" . | fromJsonArray }}
{{- dict "sentinels" (join "," $sentinels) "masterName" (include "tasklane.redisMasterName" .) "database" (include "tasklane.redisDatabase" .) "tls" false | toJson }}
{{- else if .Values.redis.enabled }}
{{- dict "address" (printf "%s.%s.svc:6379" (include "tasklane.redisName" .) .Release.Namespace) "database" (include "tasklane.redisDatabase" .) "tls" false | toJson }}
{{- else }}
{{- $url := urlParse .Values.externalRedis.url }}
{{- $address := ternary $url.host (printf "%s:6379" $url.host) (contains ":" $url.host) }}
{{- dict "address" $address "database" (include "tasklane.redisDatabase" .) "tls" (eq $url.scheme "rediss") | toJson }}
{{- end }}
{{- end }}

{{/* Where the sentinels' own password lives: a dict with "name" and "key"; empty when they
need none. In-chart, Redis and Sentinel share one password. */}}
{{- define "tasklane.redisSentinelSecret" -}}
{{- if include "tasklane.redisSentinelMode" . }}
{{- if .Values.redis.enabled }}
{{- include "tasklane.redisSecret" . }}
{{- else if .Values.externalRedis.sentinel.existingSecret }}
{{- dict "name" .Values.externalRedis.sentinel.existingSecret "key" .Values.externalRedis.sentinel.existingSecretKey | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/* The env vars every Redis client gets: the passwords, only ever by reference. */}}
{{- define "tasklane.redisPasswordEnv" -}}
{{- $secret := include "tasklane.redisSecret" . | fromJson -}}
- name: TASKLANE_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.key }}
{{- with include "tasklane.redisSentinelSecret" . }}
{{- $sentinel := fromJson . }}
- name: TASKLANE_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $sentinel.name }}
      key: {{ $sentinel.key }}
{{- end }}
{{- end }}

{{/*
A Celery client's broker as environment variables <prefix>_BROKER_URL and, with Sentinel,
<prefix>_BROKER_TRANSPORT_OPTION (celery-exporter reads CE_*). Place after
tasklane.redisPasswordEnv: Kubernetes expands the password references, so no secret is in the
manifest. With Sentinel: one sentinel:// URL per sentinel, and the master's name and how to
reach the sentinels as space-separated transport options, a JSON value decoded (the sentinels'
password must then hold no space, quote or backslash; the generated one never does).
(dict "root" $ "prefix" "CE")
*/}}
{{- define "tasklane.celeryBrokerEnv" -}}
{{- $root := .root }}
{{- if include "tasklane.redisSentinelMode" $root }}
{{- $database := include "tasklane.redisDatabase" $root }}
{{- $urls := list }}
{{- range $sentinel := include "tasklane.redisSentinels" $root | fromJsonArray }}
{{- $urls = append $urls (printf "sentinel://:$(TASKLANE_REDIS_PASSWORD)@%s/%s" $sentinel $database) }}
{{- end }}
{{- $kwargs := dict "socket_timeout" 1 "socket_connect_timeout" 1 }}
{{- if include "tasklane.redisSentinelSecret" $root }}
{{- $_ := set $kwargs "password" "$(TASKLANE_REDIS_SENTINEL_PASSWORD)" }}
{{- end }}
- name: {{ .prefix }}_BROKER_URL
  value: {{ join ";" $urls | quote }}
- name: {{ .prefix }}_BROKER_TRANSPORT_OPTION
  value: {{ printf "master_name=%s sentinel_kwargs=%s" (include "tasklane.redisMasterName" $root) (toJson $kwargs) | quote }}
{{- else }}
{{- $url := urlParse (include "tasklane.redisUrl" $root) }}
- name: {{ .prefix }}_BROKER_URL
  value: {{ printf "%s://:$(TASKLANE_REDIS_PASSWORD)@%s%s" $url.scheme $url.host $url.path | quote }}
{{- end }}
{{- end }}

{{/* The Secret the chart generates with one API key when api.auth.existingSecret is empty. */}}
{{- define "tasklane.apiKeysSecretName" -}}{{ include "tasklane.fullname" . }}-api-keys{{- end }}

{{/* True (non-empty) when the chart generates the API key Secret itself. */}}
{{- define "tasklane.apiKeysGenerated" -}}
{{- if and .Values.api.auth.enabled (not .Values.api.auth.existingSecret) }}true{{ end }}
{{- end }}

{{/* Where the API keys live: a dict with "name" and "key"; empty when auth is off. */}}
{{- define "tasklane.apiKeysSecret" -}}
{{- if .Values.api.auth.enabled }}
{{- if .Values.api.auth.existingSecret }}
{{- dict "name" .Values.api.auth.existingSecret "key" .Values.api.auth.existingSecretKey | toJson }}
{{- else }}
{{- dict "name" (include "tasklane.apiKeysSecretName" .) "key" "api-keys" | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/* The API keys, only ever by reference, when api.auth.enabled (the default). */}}
{{- define "tasklane.apiKeysEnv" -}}
{{- with include "tasklane.apiKeysSecret" . }}
{{- $secret := fromJson . -}}
- name: TASKLANE_API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.key }}
{{- end }}
{{- end }}

{{/* The path Flower serves under: "/" or "/<flower.urlPrefix>". */}}
{{- define "tasklane.flowerPath" -}}
/{{ .Values.flower.urlPrefix }}
{{- end }}

{{/* Where Flower's `user:password` list lives: a dict with "name" and "key"; empty when
flower.basicAuth is off. The generated Secret also holds Flower's cookie secret. */}}
{{- define "tasklane.flowerBasicAuthSecret" -}}
{{- if .Values.flower.basicAuth.enabled }}
{{- if .Values.flower.basicAuth.existingSecret }}
{{- dict "name" .Values.flower.basicAuth.existingSecret "key" .Values.flower.basicAuth.existingSecretKey | toJson }}
{{- else }}
{{- dict "name" (include "tasklane.flowerName" .) "key" "basic-auth" | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod annotations that roll the pods when the shared config or the generated secret changes. */}}
{{- define "tasklane.checksumAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/tasklane-configmap.yaml") . | sha256sum }}
{{- if and .Values.redis.enabled (not .Values.redis.auth.existingSecret) }}
checksum/redis-secret: {{ include (print .Template.BasePath "/redis/redis-secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{- define "tasklane.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "tasklane.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* /tmp is the only writable path in a tasklane container (the root filesystem is read-only). */}}
{{- define "tasklane.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "tasklane.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Scheduling keys shared by every pod spec: pass the component's values. */}}
{{- define "tasklane.scheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Where a component's replicas spread: (dict "labels" <the dict of tasklane.selectorLabels>
"values" <component values> "pool" <a worker pool's name, or absent> "byDefault" <whether
defaultTopologySpread applies>). The component's own constraints replace the default; one
without labelSelector gets the component's (and pool's) pods, so workerDefaults can spread
each pool over its own pods.
*/}}
{{- define "tasklane.topologySpread" -}}
{{- $selector := include "tasklane.selectorLabels" .labels | fromYaml }}
{{- with .pool }}
{{- $_ := set $selector "tasklane.io/worker-pool" . }}
{{- end }}
{{- $constraints := list }}
{{- range $given := .values.topologySpreadConstraints }}
{{- $constraint := deepCopy $given }}
{{- if not (hasKey $constraint "labelSelector") }}
{{- $_ := set $constraint "labelSelector" (dict "matchLabels" $selector) }}
{{- end }}
{{- $constraints = append $constraints $constraint }}
{{- end }}
{{- $default := .labels.root.Values.defaultTopologySpread }}
{{- if and (not $constraints) .byDefault $default.enabled }}
{{- /* pod-template-hash: during a rollout, the new ReplicaSet's pods spread among themselves
instead of around the old ones about to go. */}}
{{- $constraints = list (dict
  "maxSkew" $default.maxSkew
  "topologyKey" $default.topologyKey
  "whenUnsatisfiable" "ScheduleAnyway"
  "labelSelector" (dict "matchLabels" $selector)
  "matchLabelKeys" (list "pod-template-hash")
) }}
{{- end }}
{{- with $constraints }}
{{- dict "topologySpreadConstraints" . | toYaml }}
{{- end }}
{{- end }}

{{/* The shared ConfigMap, then the component's extraEnvFrom: (dict "root" $ "values" ...). */}}
{{- define "tasklane.envFrom" -}}
- configMapRef:
    name: {{ include "tasklane.configName" .root }}
{{- with .values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A component's volumes: /tmp's emptyDir, then its extraVolumes. Pass the values. */}}
{{- define "tasklane.podVolumes" -}}
{{ include "tasklane.tmpVolume" . }}
{{- with .extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A component's container mounts: /tmp, then its extraVolumeMounts. Pass the values. */}}
{{- define "tasklane.volumeMounts" -}}
{{ include "tasklane.tmpVolumeMount" . }}
{{- with .extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Extra labels of a component's pods (check-values refuses the chart's own). */}}
{{- define "tasklane.podLabels" -}}
{{- with .podLabels }}{{ toYaml . }}{{ end }}
{{- end }}

{{/*
The ServiceAccount a component's pods run as: (dict "root" $ "values" <component values>
"name" <the component's resource name>). Its own when serviceAccount.create (named
serviceAccount.name or after the component); else serviceAccount.name, or the shared account.
*/}}
{{- define "tasklane.componentServiceAccountName" -}}
{{- $account := .values.serviceAccount }}
{{- if $account.create }}
{{- $account.name | default .name }}
{{- else }}
{{- $account.name | default (include "tasklane.serviceAccountName" .root) }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount a component creates, with its annotations (workload identity): (dict "root"
$ "values" <component values> "name" <the component's resource name> "labels" <labels dict
for tasklane.labels> "extraLabels" <map>). Renders nothing unless serviceAccount.create.
*/}}
{{- define "tasklane.componentServiceAccount" -}}
{{- if .values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "tasklane.componentServiceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "tasklane.labels" .labels | nindent 4 }}
    {{- with .extraLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- /* Nothing in tasklane's pods calls the Kubernetes API. Workload identity does not need the
token either: its webhooks project a token of their own, GKE's metadata server needs none. */}}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/* The queues tasklane routes to (tasklane_contract.queues.ALL_QUEUES). */}}
{{- define "tasklane.knownQueues" -}}
{{- list "default" "email" "reports" "maintenance" | toJson }}
{{- end }}

{{/*
`over` laid on `base`: (dict "base" <map> "over" <map>) -> JSON. Maps merge key by key; any
other value of `over` replaces base's: a list whole (merged item by item, env lists, volumes and
tolerations would mean nothing), and also false, 0, "", [] and null, so a pool can switch off
what workerDefaults switches on. Sprig's mergeOverwrite does all that under Helm 4, but under
Helm 3 keeps base's value beneath a false or null one (helm/helm#9591); written out here, a
pool means the same under either.
*/}}
{{- define "tasklane.overlay" -}}
{{- $merged := deepCopy .base }}
{{- range $key, $value := .over }}
{{- $current := get $merged $key }}
{{- if and (kindIs "map" $value) (kindIs "map" $current) }}
{{- $_ := set $merged $key (include "tasklane.overlay" (dict "base" $current "over" $value) | fromJson) }}
{{- else }}
{{- $_ := set $merged $key $value }}
{{- end }}
{{- end }}
{{- toJson $merged }}
{{- end }}

{{/* A worker pool with workerDefaults filled in: (dict "root" $ "pool" $pool) -> JSON. */}}
{{- define "tasklane.workerPool" -}}
{{- $pool := include "tasklane.overlay" (dict "base" .root.Values.workerDefaults "over" .pool) | fromJson }}
{{- if kindIs "invalid" $pool.shutdownTimeoutSeconds }}
{{- $_ := set $pool "shutdownTimeoutSeconds" (sub (int $pool.terminationGracePeriodSeconds) 10) }}
{{- end }}
{{- toJson $pool }}
{{- end }}

{{/* The pools (with workerDefaults filled in) whose autoscaling.mode is the given one:
(dict "root" $ "mode" "operator") -> JSON list. */}}
{{- define "tasklane.autoscaledPools" -}}
{{- $found := list }}
{{- range $p := .root.Values.workers }}
{{- $pool := include "tasklane.workerPool" (dict "root" $.root "pool" $p) | fromJson }}
{{- if eq $pool.autoscaling.mode $.mode }}
{{- $found = append $found $pool }}
{{- end }}
{{- end }}
{{- toJson $found }}
{{- end }}

{{/*
The Redis list keys a queue's waiting tasks sit in: the queue's own list and the priority lists
kombu adds for priorities 1-9, `<queue>\x06\x16<n>`. Each key comes out as the body of a
double-quoted YAML string, the separator as YAML escapes: the parsed value holds the real
control characters (0x06, 0x16) Redis has in the key. (dict "queue" "default") -> JSON list.
*/}}
{{- define "tasklane.queueListKeys" -}}
{{- $keys := list .queue }}
{{- range $n := untilStep 1 10 1 }}
{{- $keys = append $keys (printf "%s\\x06\\x16%d" $.queue $n) }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/*
Scanner findings the chart accepts on purpose, as checkov skip annotations with the reason.
Pass the component's extra skips as a list of "CHECK=reason" strings.
*/}}
{{- define "tasklane.scannerSkips" -}}
{{- $common := list
  "CKV_K8S_43=Images are pinned by release tag in values; a digest is the deployer's choice, and images loaded into kind have none"
  "CKV_K8S_15=Release tags are immutable, so IfNotPresent is safe; images loaded into kind cannot be pulled at all"
}}
{{- range $i, $skip := concat $common . }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{- define "tasklane.secretEnvSkip" -}}
CKV_K8S_35=tasklane reads its settings from TASKLANE_* environment variables; the Redis password and the API keys are secretKeyRefs, never values in the manifest
{{- end }}
