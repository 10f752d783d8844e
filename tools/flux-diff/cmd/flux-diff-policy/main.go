// Command flux-diff-policy answers questions about tag selection the way Flux's
// image-reflector-controller does, for the differential tests of imageautomation-policy
// (provider/policy/tests/differential.rs).
//
// It reads one JSON request per line on stdin and writes one JSON answer per line on stdout, in
// order, so that one process serves a whole test run. Requests (field "op"):
//
//	{"op":"version","version":"v1.2"}
//	    Masterminds semver.NewVersion: {"ok":true,"string":"1.2.0","fluxOk":false} or
//	    {"ok":false,"error":"..."}; fluxOk is fluxcd/pkg/version.ParseVersion (the tag rule of the
//	    semver policy).
//	{"op":"compare","version":"1.0.0","other":"1.0.0-rc.1"}
//	    Version.Compare of two versions that NewVersion accepts: {"ok":true,"compare":1}.
//	{"op":"check","constraint":">=1.0.0","versions":["1.2.3","x"]}
//	    semver.NewConstraint, then Constraints.Check of every version NewVersion accepts:
//	    {"ok":true,"checks":[true,null]} (null: the version does not parse) or
//	    {"ok":false,"error":"..."}.
//	{"op":"filter","filterTags":{"pattern":"^v(.*)","extract":"$1"},"tags":[...]}
//	    filterTags alone, over the tags in stored order: {"ok":true,"keys":{"1.0":"v1.0"}}, the
//	    filter's map from key to original tag, or {"ok":false,"error":"..."}.
//	{"op":"select","policy":{"semver":{"range":"1.x"}},"filterTags":{"pattern":"","extract":""},"tags":[...]}
//	    The ImagePolicy selection: {"ok":true,"tag":"1.2.3"} or
//	    {"ok":false,"invalidPolicy":true,"error":"..."}. With filterTags, "alternatives" lists
//	    the other answers Flux can give (see selectTag).
//
// A request that is not JSON, or has an unknown op, ends the program with exit status 2.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/fluxcd/pkg/version"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/image-reflector-controller/fluxdiff"
)

type request struct {
	Op         string                     `json:"op"`
	Version    string                     `json:"version"`
	Other      string                     `json:"other"`
	Constraint string                     `json:"constraint"`
	Versions   []string                   `json:"versions"`
	Policy     *imagev1.ImagePolicyChoice `json:"policy"`
	FilterTags *imagev1.TagFilter         `json:"filterTags"`
	Tags       []string                   `json:"tags"`
}

type answer struct {
	OK            bool              `json:"ok"`
	Error         string            `json:"error,omitempty"`
	String        *string           `json:"string,omitempty"`
	FluxOK        *bool             `json:"fluxOk,omitempty"`
	Compare       *int              `json:"compare,omitempty"`
	Checks        []*bool           `json:"checks,omitempty"`
	Tag           *string           `json:"tag,omitempty"`
	InvalidPolicy bool              `json:"invalidPolicy,omitempty"`
	Alternatives  []string          `json:"alternatives,omitempty"`
	Keys          map[string]string `json:"keys,omitempty"`
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req request
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				fail("bad request %q: %v", line, jerr)
			}
			a := handle(&req)
			b, jerr := json.Marshal(a)
			if jerr != nil {
				fail("encoding an answer: %v", jerr)
			}
			out.Write(b)
			out.WriteByte('\n')
		}
		if err != nil {
			break
		}
		// Answer a batch as soon as all of it has been read: the client waits for it.
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				fail("writing: %v", err)
			}
		}
	}
	if err := out.Flush(); err != nil {
		fail("writing: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "flux-diff-policy: "+format+"\n", args...)
	os.Exit(2)
}

func handle(req *request) answer {
	switch req.Op {
	case "version":
		v, err := semver.NewVersion(req.Version)
		if err != nil {
			return answer{Error: err.Error()}
		}
		s := v.String()
		_, ferr := version.ParseVersion(req.Version)
		fluxOK := ferr == nil
		return answer{OK: true, String: &s, FluxOK: &fluxOK}
	case "compare":
		a, err := semver.NewVersion(req.Version)
		if err != nil {
			return answer{Error: err.Error()}
		}
		b, err := semver.NewVersion(req.Other)
		if err != nil {
			return answer{Error: err.Error()}
		}
		c := a.Compare(b)
		return answer{OK: true, Compare: &c}
	case "check":
		c, err := semver.NewConstraint(req.Constraint)
		if err != nil {
			return answer{Error: err.Error()}
		}
		checks := make([]*bool, len(req.Versions))
		for i, text := range req.Versions {
			if v, err := semver.NewVersion(text); err == nil {
				ok := c.Check(v)
				checks[i] = &ok
			}
		}
		return answer{OK: true, Checks: checks}
	case "filter":
		if req.FilterTags == nil {
			fail("filter without filterTags")
		}
		filter, err := fluxdiff.NewRegexFilter(req.FilterTags.Pattern, req.FilterTags.Extract)
		if err != nil {
			return answer{Error: err.Error()}
		}
		filter.Apply(storedOrder(req.Tags))
		keys := map[string]string{}
		for _, k := range filter.Items() {
			keys[k] = filter.GetOriginalTag(k)
		}
		return answer{OK: true, Keys: keys}
	case "select":
		return selectTag(req)
	}
	fail("unknown op %q", req.Op)
	return answer{}
}

// selectTag is ImagePolicyReconciler.applyPolicy
// (image-reflector-controller v1.2.4 internal/controller/imagepolicy_controller.go:520-548),
// which is not importable, run over the tags in the order the controller stores them: sorted
// by descending bytes (internal/controller/imagerepository_controller.go:528). The policers and
// the filter are Flux's own (internal/policy, through the injected fluxdiff package).
//
// With filterTags, Flux runs the policer over the keys of a Go map, in random order, so a tie
// (equal versions, equal numbers) has no single answer upstream. The answer given is the one
// for the keys in descending byte order, the order imageautomation-policy documents;
// "alternatives" lists the other answers seen over the ascending order and a few shuffles.
func selectTag(req *request) answer {
	if req.Policy == nil {
		fail("select without a policy")
	}
	policer, err := fluxdiff.PolicerFromSpec(*req.Policy)
	if err != nil {
		return answer{InvalidPolicy: true, Error: "invalid policy: " + err.Error()}
	}
	tags := storedOrder(req.Tags)
	if len(tags) == 0 {
		// The controller stops before the filter: Ready=False DependencyNotReady, retried.
		return answer{Error: "no tags in database"}
	}
	if req.FilterTags == nil {
		latest, err := policer.Latest(tags)
		if err != nil {
			return answer{Error: err.Error()}
		}
		return answer{OK: true, Tag: &latest}
	}
	filter, err := fluxdiff.NewRegexFilter(req.FilterTags.Pattern, req.FilterTags.Extract)
	if err != nil {
		return answer{InvalidPolicy: true, Error: "failed to filter tags: " + err.Error()}
	}
	filter.Apply(tags)
	keys := filter.Items()
	run := func(order []string) (string, error) {
		// Alphabetical sorts its argument in place: give every run its own slice.
		latest, err := policer.Latest(slices.Clone(order))
		if err != nil {
			return "", err
		}
		return filter.GetOriginalTag(latest), nil
	}
	slices.SortFunc(keys, func(a, b string) int { return -strings.Compare(a, b) })
	tag, err := run(keys)
	if err != nil {
		return answer{Error: err.Error()}
	}
	a := answer{OK: true, Tag: &tag}
	orders := [][]string{slices.Clone(keys)}
	slices.Reverse(orders[0])
	// A fixed seed: the same request always gets the same answer.
	rng := rand.New(rand.NewPCG(uint64(len(keys)), 1))
	for range 4 {
		shuffled := slices.Clone(keys)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		orders = append(orders, shuffled)
	}
	for _, order := range orders {
		if other, err := run(order); err == nil && other != tag && !slices.Contains(a.Alternatives, other) {
			a.Alternatives = append(a.Alternatives, other)
		}
	}
	return a
}

// storedOrder is the order in which the controller stores and reads a repository's tags:
// descending bytes (internal/controller/imagerepository_controller.go:528).
func storedOrder(tags []string) []string {
	sorted := slices.Clone(tags)
	slices.SortStableFunc(sorted, func(a, b string) int { return -strings.Compare(a, b) })
	return sorted
}
