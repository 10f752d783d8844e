// Package fluxdiff is not part of Flux: scripts/build-flux-diff.sh adds it to a copy of the
// image-automation-controller module so that flux-diff-setters can call the controller's
// internal update package, which Go lets only code inside the module import.
package fluxdiff

import (
	"github.com/go-logr/logr"

	reflectorv1 "github.com/fluxcd/image-reflector-controller/api/v1"

	"github.com/fluxcd/image-automation-controller/internal/update"
)

// Result is internal/update.Result.
type Result = update.Result

// UpdateWithSetters is internal/update.UpdateWithSetters.
func UpdateWithSetters(tracelog logr.Logger, inpath, outpath string, policies []reflectorv1.ImagePolicy) (Result, error) {
	return update.UpdateWithSetters(tracelog, inpath, outpath, policies)
}
