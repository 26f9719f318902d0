// Pinned modules that carry CustomResourceDefinitions the e2e cluster installs:
// Gateway API (config/crd/...) and Istio (kubernetes/customresourcedefinitions.gen.yaml).
// Nothing here is compiled; build.sh copies the YAML out of the module cache.
module modelship.io/e2e/tools/crds

go 1.26.0

require (
	istio.io/api v1.31.1
	sigs.k8s.io/gateway-api v1.6.3
)
