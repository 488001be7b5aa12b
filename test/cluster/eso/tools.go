//go:build tools

// Package tools pins ESO's controller command so `go mod tidy` keeps its dependencies; the
// binary itself is the module's root package (github.com/external-secrets/external-secrets).
package tools

import (
	_ "github.com/external-secrets/external-secrets/cmd/controller"
)
