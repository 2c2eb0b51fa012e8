package runtime

// TEMPORARY: a minimal translation of a bundle's config.json (process
// args/env/cwd/user/terminal, root.path/readonly, hostname) until oci/spec
// (branch i14-spec) is merged; then Load and Translate come from there and
// this file is deleted.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/litebox-go/litebox/sandbox"
)

type tempSpec struct {
	OCIVersion string `json:"ociVersion"`
	Process    *struct {
		Terminal    bool     `json:"terminal"`
		Args        []string `json:"args"`
		Env         []string `json:"env"`
		Cwd         string   `json:"cwd"`
		ConsoleSize *struct {
			Height uint `json:"height"`
			Width  uint `json:"width"`
		} `json:"consoleSize"`
		User struct {
			UID            uint32   `json:"uid"`
			GID            uint32   `json:"gid"`
			AdditionalGids []uint32 `json:"additionalGids"`
		} `json:"user"`
	} `json:"process"`
	Root *struct {
		Path     string `json:"path"`
		Readonly bool   `json:"readonly"`
	} `json:"root"`
	Hostname    string            `json:"hostname"`
	Annotations map[string]string `json:"annotations"`
}

// Process is what runs in the sandbox (oci/spec's Process, reduced).
type Process struct {
	Args, Env  []string
	Cwd        string
	User       sandbox.User
	Terminal   bool
	Rows, Cols uint16
}

// Plan is a translated bundle (oci/spec's Plan, reduced).
type Plan struct {
	Config      sandbox.Config
	Process     Process
	Rootfs      string
	Annotations map[string]string
}

const maxConfig = 4 << 20

func loadSpec(path string) (*tempSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfig {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfig)
	}
	var s tempSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// loadPlan reads bundle/config.json and translates it.
func loadPlan(bundle string) (*Plan, error) {
	s, err := loadSpec(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	if s.Process == nil || len(s.Process.Args) == 0 {
		return nil, errors.New("config.json: process.args must not be empty")
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, errors.New("config.json: root.path is required")
	}
	p, err := translateProcessTemp(s)
	if err != nil {
		return nil, err
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	return &Plan{
		Config: sandbox.Config{
			Hostname: s.Hostname,
			Limits:   sandbox.Limits{Memory: 4 << 30, Tasks: 512, NoFile: 1024, FileSize: 4 << 30},
			TmpSize:  1 << 30,
		},
		Process:     p,
		Rootfs:      root,
		Annotations: s.Annotations,
	}, nil
}

func translateProcessTemp(s *tempSpec) (Process, error) {
	pr := s.Process
	p := Process{Args: pr.Args, Env: pr.Env, Cwd: pr.Cwd, Terminal: pr.Terminal,
		User: sandbox.User{UID: pr.User.UID, GID: pr.User.GID, Groups: pr.User.AdditionalGids}}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if pr.ConsoleSize != nil {
		p.Rows, p.Cols = uint16(pr.ConsoleSize.Height), uint16(pr.ConsoleSize.Width)
	}
	return p, nil
}

// loadProcess reads an exec --process file.
func loadProcess(path string) (Process, error) {
	f, err := os.Open(path)
	if err != nil {
		return Process{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return Process{}, err
	}
	var s tempSpec
	s.Process = &struct {
		Terminal    bool     `json:"terminal"`
		Args        []string `json:"args"`
		Env         []string `json:"env"`
		Cwd         string   `json:"cwd"`
		ConsoleSize *struct {
			Height uint `json:"height"`
			Width  uint `json:"width"`
		} `json:"consoleSize"`
		User struct {
			UID            uint32   `json:"uid"`
			GID            uint32   `json:"gid"`
			AdditionalGids []uint32 `json:"additionalGids"`
		} `json:"user"`
	}{}
	if err := json.Unmarshal(b, s.Process); err != nil {
		return Process{}, fmt.Errorf("%s: %w", path, err)
	}
	return translateProcessTemp(&s)
}
