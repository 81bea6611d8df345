# tasklane: the user's interface. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# uv is the one tool needed up front; it is installed with pip when missing.
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: help uv sync run test test-images lint format bench load dashboards

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

uv:
	@command -v $(UV) >/dev/null 2>&1 || { echo "installing uv with pip"; $(PYTHON) -m pip install --user --quiet uv; }

sync: uv ## install every workspace member and the dev tools from uv.lock
	@$(UV) sync --locked --all-packages --quiet

run: sync ## run the whole stack locally (embedded Redis unless TASKLANE_REDIS_URL is set)
	@$(UV) run --no-sync python -m tasklane_devstack

test: sync ## run the whole test suite (the image tests too when podman is installed; not tests/e2e)
	$(UV) run --no-sync pytest

test-images: sync ## build the images with podman and run them as the chart runs them (tests/images)
	$(UV) run --no-sync pytest tests/images

lint: sync ## ruff, mypy and actionlint
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy services tests bench helm/dashboards
	$(UV) run --no-sync actionlint

dashboards: sync ## regenerate the Grafana dashboards' JSON in helm/tasklane/files/dashboards
	$(UV) run --no-sync python helm/dashboards/generate.py

bench: sync ## API and worker figures against the textbook FastAPI + Celery pattern (needs wrk)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(UV) run --no-sync python -m bench.run

load: sync ## submit at RATE/s for SECONDS against a running stack (default: make run's) and check every task succeeds
	$(UV) run --no-sync python -m bench.load --rate $(or $(RATE),50) --seconds $(or $(SECONDS),20)

format: sync ## apply ruff's formatting and safe fixes
	$(UV) run --no-sync ruff format .
	$(UV) run --no-sync ruff check --fix .

# --- images, chart and kind ---
# Images are tagged <chart appVersion>-<git commit> (plus -dirty for uncommitted changes), so a
# new commit is a new tag and `helm upgrade` rolls the pods. Override with IMAGE_TAG=...
CHART_DIR := helm/tasklane
APP_VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' $(CHART_DIR)/Chart.yaml)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
GIT_DIRTY := $(shell git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo -dirty)
IMAGE_TAG ?= $(APP_VERSION)$(if $(GIT_COMMIT),-$(GIT_COMMIT)$(GIT_DIRTY))
# Registry prefix for the images, e.g. ghcr.io/acme; empty for bare local names.
IMAGE_REGISTRY ?=
# One Dockerfile builds every image: adding a service's image is adding its member's name here.
IMAGE_SERVICES := api worker beat autoscaler flower
# Extra flags for every `build`, e.g. --pull=never or a build-time --volume.
IMAGE_BUILD_FLAGS ?=
# docker or podman; empty means docker when a Docker engine answers, else podman.
CONTAINER_ENGINE ?=
KIND_CLUSTER ?= tasklane
KIND_CONFIG := k8s/kind-config.yaml
# k8s/kind-config.yaml publishes this node port on 127.0.0.1:KIND_API_PORT.
KIND_NODE_PORT := 30080
KIND_API_PORT := 8080
# kind-up tags its images localhost/tasklane-<service>: the name podman gives a local image, and
# one the kind node's containerd keeps as it is (a bare name would become docker.io/library/...).
KIND_IMAGE_REGISTRY := localhost
KUBE_NAMESPACE ?= tasklane
HELM_RELEASE ?= tasklane
MONITORING ?=
MONITORING_NAMESPACE := monitoring
# kube-prometheus-stack chart version for MONITORING=1; empty installs the newest.
KPS_VERSION ?=
KUBE_CONTEXT := kind-$(KIND_CLUSTER)

# The container engine: CONTAINER_ENGINE if set, else docker when a Docker engine answers, else
# podman when installed (empty when neither). Found once, and only by the targets that use it.
ENGINE = $(eval ENGINE := $(or $(CONTAINER_ENGINE),$(shell \
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; \
  elif command -v podman >/dev/null 2>&1; then echo podman; fi)))$(ENGINE)
# kind runs its nodes on podman only when told so.
KIND_ENV = $(if $(filter podman,$(ENGINE)),KIND_EXPERIMENTAL_PROVIDER=$(or $(KIND_EXPERIMENTAL_PROVIDER),podman))

# A recipe line that fails, saying why, unless ENGINE can build and run containers.
define check_engine
if [ -z "$(ENGINE)" ]; then \
  if command -v docker >/dev/null 2>&1; then \
    echo "make $@: no Docker engine answers ('docker info' failed) and podman is not installed: start Docker (or set DOCKER_HOST to a running engine), or install podman, and retry"; \
  else echo "make $@: neither docker nor podman is installed; either one builds and runs the images"; fi; \
  exit 1; \
fi; \
command -v "$(ENGINE)" >/dev/null 2>&1 || { echo "make $@: CONTAINER_ENGINE=$(ENGINE) is not installed"; exit 1; }; \
"$(ENGINE)" info >/dev/null 2>&1 || { echo "make $@: '$(ENGINE) info' failed: $(ENGINE) cannot run containers here"; exit 1; }
endef

.PHONY: images kind-up kind-down e2e

images: ## build the api, worker, beat, autoscaler and flower images with docker or podman, tagged IMAGE_TAG
	@$(check_engine)
	@set -e; for service in $(IMAGE_SERVICES); do \
	  image="$(if $(IMAGE_REGISTRY),$(IMAGE_REGISTRY)/)tasklane-$$service:$(IMAGE_TAG)"; \
	  description="$$(sed -n 's/^description = "\(.*\)"$$/\1/p' services/$$service/pyproject.toml)"; \
	  echo "building $$image with $(ENGINE)"; \
	  DOCKER_BUILDKIT=1 $(ENGINE) build --file services/Dockerfile --build-arg SERVICE=$$service \
	    --build-arg "DESCRIPTION=$$description" \
	    --build-arg VERSION=$(APP_VERSION) --build-arg REVISION=$(or $(GIT_COMMIT),unknown) \
	    $(IMAGE_BUILD_FLAGS) --tag "$$image" . ; \
	done

kind-up: ## local kind cluster (on docker or podman) running the whole bundle; MONITORING=1 adds kube-prometheus-stack
	@missing=""; for tool in kind kubectl helm; do \
	  command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; \
	done; \
	if [ -n "$$missing" ]; then echo "make kind-up needs these tools on PATH, missing:$$missing"; exit 1; fi
	@$(check_engine)
	@if $(KIND_ENV) kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "kind cluster $(KIND_CLUSTER) exists"; \
	else \
	  $(KIND_ENV) kind create cluster --name $(KIND_CLUSTER) --config $(KIND_CONFIG) --wait 120s; \
	fi
	@$(MAKE) --no-print-directory images CONTAINER_ENGINE=$(ENGINE) IMAGE_REGISTRY=$(KIND_IMAGE_REGISTRY) IMAGE_TAG=$(IMAGE_TAG)
	@archives="$$(mktemp -d)"; trap 'rm -rf "$$archives"' EXIT; \
	for service in $(IMAGE_SERVICES); do \
	  $(ENGINE) save -o "$$archives/$$service.tar" $(KIND_IMAGE_REGISTRY)/tasklane-$$service:$(IMAGE_TAG) || exit 1; \
	  $(KIND_ENV) kind load image-archive --name $(KIND_CLUSTER) "$$archives/$$service.tar" || exit 1; \
	done
ifeq ($(MONITORING),1)
	helm upgrade --install kube-prometheus-stack kube-prometheus-stack \
	  --repo https://prometheus-community.github.io/helm-charts $(if $(KPS_VERSION),--version $(KPS_VERSION)) \
	  --kube-context $(KUBE_CONTEXT) --namespace $(MONITORING_NAMESPACE) --create-namespace \
	  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
	  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
	  --set grafana.sidecar.dashboards.searchNamespace=ALL \
	  --wait --timeout 10m
endif
	helm upgrade --install $(HELM_RELEASE) $(CHART_DIR) \
	  --kube-context $(KUBE_CONTEXT) --namespace $(KUBE_NAMESPACE) --create-namespace \
	  --set image.registry=$(KIND_IMAGE_REGISTRY) --set image.tag=$(IMAGE_TAG) \
	  --set api.service.type=NodePort --set api.service.nodePort=$(KIND_NODE_PORT) \
	  $(if $(filter 1,$(MONITORING)),--set monitoring.serviceMonitor.enabled=true \
	  --set monitoring.prometheusRule.enabled=true --set monitoring.dashboards.enabled=true \
	  --set-json 'networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"$(MONITORING_NAMESPACE)"}}}]') \
	  --wait --timeout 10m
	helm test $(HELM_RELEASE) --kube-context $(KUBE_CONTEXT) --namespace $(KUBE_NAMESPACE) --logs
	@echo
	@echo "tasklane API: http://127.0.0.1:$(KIND_API_PORT)  (docs: http://127.0.0.1:$(KIND_API_PORT)/docs)"
	@echo "try (the API key is the one the chart generated):"
	@echo "  export TASKLANE_API_KEY=\$$(kubectl --context $(KUBE_CONTEXT) -n $(KUBE_NAMESPACE) get secret $(HELM_RELEASE)-api-keys -o jsonpath='{.data.api-keys}' | base64 -d)"
	@echo "  curl -s -X POST http://127.0.0.1:$(KIND_API_PORT)/v1/tasks/text.process -H \"Authorization: Bearer \$$TASKLANE_API_KEY\" -H 'Content-Type: application/json' -d '{\"data\": \"hello\"}'"
	@echo "  curl -s -H \"Authorization: Bearer \$$TASKLANE_API_KEY\" http://127.0.0.1:$(KIND_API_PORT)/v1/tasks/<id>"
	@echo "scale a worker pool (its replicas come from the values: kubectl scale lasts until the next make kind-up; helm status $(HELM_RELEASE) says who owns each pool's replicas):"
	@echo "  kubectl --context $(KUBE_CONTEXT) -n $(KUBE_NAMESPACE) scale deployment/$(HELM_RELEASE)-worker-general --replicas=3"
	$(if $(filter 1,$(MONITORING)),@echo "Grafana: kubectl --context $(KUBE_CONTEXT) -n $(MONITORING_NAMESPACE) port-forward svc/kube-prometheus-stack-grafana 3000:80")

kind-down: ## delete the kind cluster of kind-up
	@command -v kind >/dev/null 2>&1 || { echo "make kind-down needs kind on PATH"; exit 1; }
	$(KIND_ENV) kind delete cluster --name $(KIND_CLUSTER)

# The end-to-end suite installs its own release (named tasklane, as the README's) in this
# namespace of the current kube-context, running by default the images make kind-up loads.
E2E_NAMESPACE ?= tasklane-e2e
E2E_IMAGE_REGISTRY ?= $(KIND_IMAGE_REGISTRY)
E2E_IMAGE_TAG ?= $(IMAGE_TAG)
# Another kube-context than the current one, if set.
E2E_CONTEXT ?=

e2e: sync ## end-to-end suite (tests/e2e) on the current kube-context, e.g. after make kind-up (needs kubectl, helm)
	$(UV) run --no-sync pytest tests/e2e --e2e-namespace=$(E2E_NAMESPACE) \
	  --e2e-image-registry=$(E2E_IMAGE_REGISTRY) --e2e-image-tag=$(E2E_IMAGE_TAG) \
	  $(if $(E2E_CONTEXT),--e2e-context=$(E2E_CONTEXT))

# --- autoscaler ---
AUTOSCALE_TRACES ?= $(sort $(wildcard services/autoscaler/traces/*.json))
AUTOSCALE_RANDOM ?= 54
AUTOSCALE_VARY ?= 6

.PHONY: bench-autoscale test-autoscaler

bench-autoscale: sync ## replay every workload trace, AUTOSCALE_VARY variants of each and AUTOSCALE_RANDOM random ones: tasklane's policy vs KEDA's defaults vs the floor
	$(UV) run --no-sync python -m tasklane_autoscaler.bench $(AUTOSCALE_TRACES) --vary $(AUTOSCALE_VARY) --random $(AUTOSCALE_RANDOM)

test-autoscaler: sync ## the autoscaler's tests: policy, simulator, operator on KMock, local scaler
	$(UV) run --no-sync pytest tests/autoscaler -q
