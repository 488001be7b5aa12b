//go:build tools

// Package tools pins the helm main package so `go mod tidy` keeps its dependencies; the deploy
// tests build helm from this module (test/deploy/build-helm) to lint and render the chart.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
