//go:build tools

// Package tools pins helm so `go mod tidy` keeps it.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
