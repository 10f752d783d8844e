// Command flux-diff-setters runs Flux's `$imagepolicy` setters (image-automation-controller
// internal/update.UpdateWithSetters) over small file trees, for the differential tests of
// imageautomation-update (provider/update/tests/differential.rs).
//
// It reads one JSON request per line on stdin and writes one JSON answer per line on stdout, in
// order, so that one process serves a whole test run. A request:
//
//	{"files": {"dir/a.yaml": "<text>", ...},
//	 "policies": [{"namespace": "ns", "name": "p", "latestRef": {"name": "...", "tag": "...", "digest": "..."}}]}
//
// The files are written to a fresh input directory, UpdateWithSetters writes the files it
// changed to a fresh, empty output directory (as Flux's own TestUpdateWithSetters does), and the
// answer is
//
//	{"ok": true,
//	 "written": {"dir/a.yaml": "<text as Flux wrote it>"},
//	 "changes": {"dir/a.yaml": [{"object": {"apiVersion","kind","name","namespace"},
//	                            "changes": [{"oldValue","newValue","setter"}]}]},
//	 "problemFiles": ["b.yaml"]}
//
// or {"ok": false, "error": "..."} when UpdateWithSetters fails. Objects are sorted by their
// identity (Flux keeps them in a map); changes keep Flux's order. problemFiles are the files that
// carry the token but could not be read as YAML resources (Flux only trace-logs them).
//
// A request that is not JSON ends the program with exit status 2.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	reflectorv1 "github.com/fluxcd/image-reflector-controller/api/v1"

	"github.com/fluxcd/image-automation-controller/fluxdiff"
)

type policy struct {
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	LatestRef *reflectorv1.ImageRef `json:"latestRef"`
}

type request struct {
	Files    map[string]string `json:"files"`
	Policies []policy          `json:"policies"`
}

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
}

type change struct {
	OldValue string `json:"oldValue"`
	NewValue string `json:"newValue"`
	Setter   string `json:"setter"`
}

type objectChanges struct {
	Object  object   `json:"object"`
	Changes []change `json:"changes"`
}

type answer struct {
	OK           bool                       `json:"ok"`
	Error        string                     `json:"error,omitempty"`
	Written      map[string]string          `json:"written,omitempty"`
	Changes      map[string][]objectChanges `json:"changes,omitempty"`
	ProblemFiles []string                   `json:"problemFiles,omitempty"`
}

// workDir holds the trees of the request being answered; removed on exit.
var workDir string

func main() {
	var err error
	workDir, err = os.MkdirTemp("", "flux-diff-setters-")
	if err != nil {
		fail("creating a work directory: %v", err)
	}
	defer os.RemoveAll(workDir)

	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	for n := 0; ; n++ {
		line, rerr := in.ReadBytes('\n')
		if len(line) > 0 {
			var req request
			if err := json.Unmarshal(line, &req); err != nil {
				fail("bad request %q: %v", line, err)
			}
			a := handle(filepath.Join(workDir, fmt.Sprint(n)), &req)
			b, err := json.Marshal(a)
			if err != nil {
				fail("encoding an answer: %v", err)
			}
			out.Write(b)
			out.WriteByte('\n')
		}
		if rerr != nil {
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
	fmt.Fprintf(os.Stderr, "flux-diff-setters: "+format+"\n", args...)
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(2)
}

func handle(dir string, req *request) answer {
	defer os.RemoveAll(dir)
	inDir, outDir := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, d := range []string{inDir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fail("%v", err)
		}
	}
	for rel, text := range req.Files {
		p := filepath.Join(inDir, filepath.FromSlash(rel))
		if !strings.HasPrefix(p, inDir+string(filepath.Separator)) {
			fail("file path %q leaves the input directory", rel)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fail("%v", err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			fail("%v", err)
		}
	}

	var policies []reflectorv1.ImagePolicy
	for _, p := range req.Policies {
		policies = append(policies, reflectorv1.ImagePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
			Status:     reflectorv1.ImagePolicyStatus{LatestRef: p.LatestRef},
		})
	}

	problems := &problemSink{}
	result, err := fluxdiff.UpdateWithSetters(logr.New(problems), inDir, outDir, policies)
	if err != nil {
		return answer{Error: err.Error()}
	}

	a := answer{OK: true, Written: map[string]string{}, Changes: map[string][]objectChanges{}, ProblemFiles: problems.paths}
	err = filepath.WalkDir(outDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(outDir, p)
		if err != nil {
			return err
		}
		a.Written[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		fail("reading the output directory: %v", err)
	}
	for file, objects := range result.FileChanges {
		var list []objectChanges
		for id, changes := range objects {
			oc := objectChanges{Object: object{
				APIVersion: id.APIVersion, Kind: id.Kind, Name: id.Name, Namespace: id.Namespace,
			}}
			for _, c := range changes {
				oc.Changes = append(oc.Changes, change{OldValue: c.OldValue, NewValue: c.NewValue, Setter: c.Setter})
			}
			list = append(list, oc)
		}
		slices.SortFunc(list, func(x, y objectChanges) int {
			return strings.Compare(x.Object.key(), y.Object.key())
		})
		a.Changes[filepath.ToSlash(file)] = list
	}
	return a
}

func (o object) key() string {
	return strings.Join([]string{o.APIVersion, o.Kind, o.Name, o.Namespace}, "\x00")
}

// problemSink is a logr sink that keeps the paths of the "problem file" messages of
// ScreeningLocalReader (internal/update/filereader.go), the only report Flux makes of a file it
// could not read.
type problemSink struct {
	paths []string
}

func (s *problemSink) Init(logr.RuntimeInfo)  {}
func (s *problemSink) Enabled(level int) bool { return true }
func (s *problemSink) Info(level int, msg string, kv ...any) {
	if msg != "problem file" {
		return
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "path" {
			s.paths = append(s.paths, filepath.ToSlash(fmt.Sprint(kv[i+1])))
		}
	}
}
func (s *problemSink) Error(err error, msg string, kv ...any) {}
func (s *problemSink) WithValues(kv ...any) logr.LogSink      { return s }
func (s *problemSink) WithName(name string) logr.LogSink      { return s }
