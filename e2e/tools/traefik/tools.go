//go:build tools

// Package tools pins Traefik, the e2e cluster's Gateway API implementation
// (built by e2e/cluster/build-traefik.sh from github.com/traefik/traefik/v3/cmd/traefik).
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
