// Command esc-eval evaluates a Pulumi ESC environment file offline, with the evaluator the pulumi
// CLI links (github.com/pulumi/pulumi/sdk/v3/go/common/esc/eval, the same release as the CLI), and
// prints its `pulumiConfig` the way the CLI turns it into stack config: one line of JSON per leaf,
// {"key": "imageautomation:githubToken", "path": "", "value": "...", "secret": true}.
//
// Usage: esc-eval FILE.env.yaml
//
// Only what needs no Pulumi Cloud is evaluated: literals, fn::secret on plaintext, and
// interpolation within the file. Imports, providers (fn::open) and encrypted secrets are errors.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/esc"
	"github.com/pulumi/pulumi/sdk/v3/go/common/esc/eval"
)

type offline struct{}

func (offline) Decrypt(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("encrypted secrets need Pulumi Cloud")
}

func (offline) LoadProvider(context.Context, string) (esc.Provider, error) {
	return nil, errors.New("providers (fn::open) need Pulumi Cloud")
}

func (offline) LoadRotator(context.Context, string) (esc.Rotator, error) {
	return nil, errors.New("rotators need Pulumi Cloud")
}

func (offline) LoadEnvironment(context.Context, string) ([]byte, string, eval.Decrypter, error) {
	return nil, "", nil, errors.New("imported environments need Pulumi Cloud")
}

func (offline) AuthorizeImport(context.Context, string, string, bool) error {
	return errors.New("imported environments need Pulumi Cloud")
}

type leaf struct {
	Key    string `json:"key"`
	Path   string `json:"path"`
	Value  any    `json:"value"`
	Secret bool   `json:"secret"`
}

// leaves flattens v into its scalar leaves; a secret container makes every leaf under it secret,
// as the CLI's config conversion does (pkg/workspace/config.go toPlaintext).
func leaves(key, path string, v esc.Value, secret bool, out *[]leaf) {
	secret = secret || v.Secret
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch repr := v.Value.(type) {
	case map[string]esc.Value:
		keys := make([]string, 0, len(repr))
		for k := range repr {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			leaves(key, join(k), repr[k], secret, out)
		}
	case []esc.Value:
		for i, item := range repr {
			leaves(key, path+"["+strconv.Itoa(i)+"]", item, secret, out)
		}
	default:
		*out = append(*out, leaf{Key: key, Path: path, Value: repr, Secret: secret})
	}
}

func run(file string) error {
	source, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	decl, diags, err := eval.LoadYAMLBytes(file, source)
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	env, diags := eval.EvalEnvironment(context.Background(), "local", decl, offline{}, offline{}, offline{},
		&esc.ExecContext{}, eval.EvalOptions{})
	if diags.HasErrors() {
		return diags
	}
	config, ok := env.Properties["pulumiConfig"].Value.(map[string]esc.Value)
	if !ok {
		return errors.New("the environment has no pulumiConfig")
	}
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []leaf
	for _, k := range keys {
		leaves(k, "", config[k], false, &out)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, l := range out {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: esc-eval FILE.env.yaml")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "esc-eval:", err)
		os.Exit(1)
	}
}
