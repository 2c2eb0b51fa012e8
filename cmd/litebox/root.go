package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/litebox-go/litebox/image"
	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/overlay"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/sandbox"
)

// rootView is a read-only view of the image's root, the layers stacked as
// the guest will see them, for what litebox reads there before the
// sandbox exists (/etc/passwd and /etc/group for --user).
func rootView(im *image.Image) (*vfs.VFS, error) {
	if len(im.Layers) == 0 {
		return nil, errors.New("the image has no layers")
	}
	var v *vfs.VFS
	if len(im.Layers) == 1 {
		v = vfs.New(im.Layers[0])
	} else {
		top := slices.Clone(im.Layers)
		slices.Reverse(top) // the overlay wants the top layer first
		ov, err := overlay.New(memfs.New(0), top, overlay.Options{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("image layers: %w", err)
		}
		v = vfs.New(ov)
	}
	// litebox reads as the image's root would (a 0600 /etc/passwd too);
	// nothing is written through this view.
	v.SetCred(cred.New(0, 0, nil))
	return v, nil
}

// setRoot makes the image the sandbox's root.
func setRoot(cfg *sandbox.Config, im *image.Image, readOnly bool) error {
	if len(im.Layers) == 0 {
		return errors.New("the image has no layers")
	}
	cfg.Root = &sandbox.Root{Layers: im.Layers, ReadOnly: readOnly}
	return nil
}
