//go:build tools

// Package tools pins Prometheus for the e2e cluster (built by e2e/cluster/build-prometheus.sh with
// only the Kubernetes service discovery linked in). Debian's package leaves Kubernetes discovery out.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
