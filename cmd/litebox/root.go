package main

import (
	"errors"

	"github.com/litebox-go/litebox/image"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/sandbox"
)

// rootView is a read-only view of the image's root, as the guest will
// see it, for what litebox reads there before the sandbox exists
// (/etc/passwd and /etc/group for --user).
func rootView(im *image.Image) (*vfs.VFS, error) {
	if len(im.Layers) == 1 {
		return vfs.New(im.Layers[0]), nil
	}
	return nil, errors.New("images of several layers need the overlay file system (branch i13-overlay, not merged yet)")
}

// setRoot makes the image the sandbox's root.
func setRoot(cfg *sandbox.Config, im *image.Image, readOnly bool) error {
	return errors.New("an image root needs sandbox.Root (branch i13-overlay, not merged yet)")
}
