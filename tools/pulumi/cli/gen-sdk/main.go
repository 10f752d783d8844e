// Command gen-sdk writes the Node.js, Python and Go SDKs of a Pulumi package from its schema
// with Pulumi's own code generators, at the version this module pins, without the pulumi CLI
// or its language plugins:
//
//	go run ./gen-sdk --schema ../../../schema.json --out ../../../sdk
//
// It does what `pulumi package gen-sdk schema.json --language L --out sdk` does with the
// language hosts of the same release: the CLI binds the schema and sends it, marshalled
// again, to the host's GeneratePackage RPC, which binds it and calls the language's
// GeneratePackage with the host's name as the tool name; the CLI first empties the
// output directory. Each directory (sdk/nodejs, sdk/python, sdk/go) is replaced whole, so
// files the generators no longer write disappear.
//
// For Go it also writes sdk/go/go.mod (module = the parent of the schema's go
// importBasePath, requiring the Pulumi Go SDK at the version this program was built
// with) and, with `go mod tidy`, go.sum, so that `go build ./...` works in sdk/go. The
// Go generator writes a go.mod itself only for `supportPack` schemas, and pins an older
// SDK there.
//
// The output is deterministic: files are written in sorted order with fixed modes, and
// the generators emit no times or random names.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"

	"github.com/blang/semver"
	"github.com/hashicorp/hcl/v2"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// pulumiGoSDK is the module the generated Go SDK imports.
const pulumiGoSDK = "github.com/pulumi/pulumi/sdk/v3"

// language is one SDK: its directory under --out and its generator, called the way its
// language host calls it.
type language struct {
	name     string
	generate func(pkg *schema.Package) (map[string][]byte, error)
}

var languages = []language{
	{"nodejs", func(pkg *schema.Package) (map[string][]byte, error) {
		// No extra files, no local dependencies, not a local SDK: `gen-sdk` without --local.
		return nodejs.GeneratePackage("pulumi-language-nodejs", pkg, nil, nil, false, refuseExternal{})
	}},
	{"python", func(pkg *schema.Package) (map[string][]byte, error) {
		return python.GeneratePackage("pulumi-language-python", pkg, nil, refuseExternal{})
	}},
	{"go", func(pkg *schema.Package) (map[string][]byte, error) {
		return gogen.GeneratePackage("pulumi-language-go", pkg, nil)
	}},
}

func main() {
	schemaPath := flag.String("schema", "schema.json", "the package schema (JSON)")
	out := flag.String("out", "sdk", "the directory that receives nodejs/, python/ and go/")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gen-sdk --schema schema.json --out sdk")
		os.Exit(2)
	}
	if err := run(*schemaPath, *out); err != nil {
		fmt.Fprintf(os.Stderr, "gen-sdk: %v\n", err)
		os.Exit(1)
	}
}

func run(schemaPath, out string) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	// The CLI sends the language host the bound package marshalled again, not the file.
	cliPkg, err := bind(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	sent, err := cliPkg.MarshalJSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, lang := range languages {
		// Each host binds its own copy: GeneratePackage records language info in the package.
		var hostSpec schema.PackageSpec
		if err := json.Unmarshal(sent, &hostSpec); err != nil {
			return err
		}
		pkg, err := bind(hostSpec)
		if err != nil {
			return fmt.Errorf("%s: %w", lang.name, err)
		}
		files, err := lang.generate(pkg)
		if err != nil {
			return fmt.Errorf("%s: %w", lang.name, err)
		}
		if lang.name == "go" {
			if files, err = addGoModule(pkg, files); err != nil {
				return err
			}
		}
		if err := replaceDir(filepath.Join(out, lang.name), files, lang.name == "go"); err != nil {
			return fmt.Errorf("%s: %w", lang.name, err)
		}
	}
	return nil
}

// bind binds a schema as the CLI and the language hosts do (dangling references allowed),
// failing on any error diagnostic and printing the warnings.
func bind(spec schema.PackageSpec) (*schema.Package, error) {
	pkg, diags, err := schema.BindSpec(spec, refuseExternal{}, schema.ValidationOptions{
		AllowDanglingReferences: true,
	})
	if err != nil {
		return nil, err
	}
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			fmt.Fprintf(os.Stderr, "gen-sdk: warning: %s\n", d.Error())
		}
	}
	if diags.HasErrors() {
		return nil, errors.Join(diags.Errs()...)
	}
	return pkg, nil
}

// addGoModule adds go.mod for the module that holds the schema's importBasePath.
func addGoModule(pkg *schema.Package, files map[string][]byte) (map[string][]byte, error) {
	info, _ := pkg.Language["go"].(gogen.GoPackageInfo)
	if info.ImportBasePath == "" {
		return nil, errors.New("go: the schema's language.go.importBasePath is required")
	}
	version, err := moduleVersion(pulumiGoSDK)
	if err != nil {
		return nil, err
	}
	files["go.mod"] = fmt.Appendf(nil, "module %s\n\ngo 1.25\n\nrequire %s %s\n",
		path.Dir(info.ImportBasePath), pulumiGoSDK, version)
	return files, nil
}

// moduleVersion is the version of a module this program was built with (tools/pulumi/cli/go.mod).
func moduleVersion(module string) (string, error) {
	build, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errors.New("no build information in this binary")
	}
	for _, dep := range build.Deps {
		if dep.Path == module {
			if dep.Replace != nil {
				return dep.Replace.Version, nil
			}
			return dep.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not a dependency of this binary", module)
}

// replaceDir writes files into a fresh sibling directory and swaps it for dir, so a failed
// run leaves the old SDK in place. For Go, `go mod tidy` fills in go.mod and go.sum first.
func replaceDir(dir string, files map[string][]byte, goModule bool) error {
	tmp := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".gen-sdk-tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("generator wrote a path outside its directory: %q", name)
		}
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	if goModule {
		if err := goModTidy(tmp); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// goModTidy records the Go SDK's dependencies (go.mod's indirect requirements, go.sum),
// needing the Go module proxy or a warm module cache.
func goModTidy(dir string) error {
	cmd := exec.CommandContext(context.Background(), "go", "mod", "tidy")
	cmd.Dir = dir
	// The SDK module stands alone: no workspace, and no flags from the caller's environment.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go mod tidy in %s: %w", dir, err)
	}
	return nil
}

// refuseExternal is the schema loader: the package references no other package, so any
// request to load one is an error rather than a plugin download.
type refuseExternal struct{}

func (refuseExternal) refuse(name string) error {
	return fmt.Errorf("the schema references package %q; gen-sdk loads no external packages", name)
}

func (l refuseExternal) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.refuse(name)
}

func (l refuseExternal) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.refuse(d.Name)
}

func (l refuseExternal) LoadPackageReference(name string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.refuse(name)
}

func (l refuseExternal) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.refuse(d.Name)
}
