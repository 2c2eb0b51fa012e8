package compat

import "strings"

// Known classifies a difference from native that a compat run has shown:
// a defect (naming the issue-11 bullet that fixes it) or a difference that
// is right by design (and why). docs/compatibility.md prints each differing
// case with its classification; a case no entry matches is printed as
// unclassified, so that a refresh after merging fixes shows at once what
// went away and what is new.
type Known struct {
	Module string `json:"module"`
	// Case is a prefix of the case id without "test.MODULE." (a class
	// name matches all its tests); "" classifies the module as a whole
	// (its outcome or counts).
	Case string `json:"case"`
	Why  string `json:"why"`
}

// Classify returns the longest matching entry of KnownDifferences for a
// case of module (id is the full unittest id; "" asks for the module
// entry), or nil.
func Classify(module, id string) *Known {
	var best *Known
	short := shortID(module, id)
	for i := range KnownDifferences {
		k := &KnownDifferences[i]
		if k.Module != module {
			continue
		}
		if id == "" {
			if k.Case == "" {
				return k
			}
			continue
		}
		if k.Case == "" || !strings.HasPrefix(short, k.Case) {
			continue
		}
		// "C.test_x" must not match "C.test_xy": a prefix ends at a dot or
		// the end of the id.
		if len(short) > len(k.Case) && short[len(k.Case)] != '.' {
			continue
		}
		if best == nil || len(k.Case) > len(best.Case) {
			best = k
		}
	}
	return best
}

// Reasons shared by several entries.
const (
	byDesignNoRoot = "by design: the guest is an unprivileged user, never host root"
)

// KnownDifferences lists every difference seen on the reference machine
// (docs/compatibility.md says which run).
var KnownDifferences = []Known{}
