// Package fluxdiff is not part of Flux: scripts/build-flux-diff.sh adds it to a copy of the
// image-reflector-controller module so that flux-diff-policy can call the controller's internal
// policy package, which Go lets only code inside the module import.
package fluxdiff

import (
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/image-reflector-controller/internal/policy"
)

// Policer is internal/policy.Policer.
type Policer = policy.Policer

// RegexFilter is internal/policy.RegexFilter.
type RegexFilter = policy.RegexFilter

// PolicerFromSpec is internal/policy.PolicerFromSpec.
func PolicerFromSpec(choice imagev1.ImagePolicyChoice) (Policer, error) {
	return policy.PolicerFromSpec(choice)
}

// NewRegexFilter is internal/policy.NewRegexFilter.
func NewRegexFilter(pattern, replace string) (*RegexFilter, error) {
	return policy.NewRegexFilter(pattern, replace)
}
