package mm

// refSet is a set of things an address space keeps one reference to each,
// for as long as a VMA maps them: the open files private mappings read
// from (files.go) and the page-cache entries they show (cache.go). Both
// follow one rule: taken once when first mapped, given back once no VMA
// maps them, copied (each taken again) by fork.
type refSet[K comparable] map[K]struct{}

// add records k; false if the set holds it already.
func (s *refSet[K]) add(k K) bool {
	if _, ok := (*s)[k]; ok {
		return false
	}
	if *s == nil {
		*s = refSet[K]{}
	}
	(*s)[k] = struct{}{}
	return true
}

// sweep releases, and forgets, every member that live does not hold.
func (s refSet[K]) sweep(live map[K]struct{}, release func(K)) {
	for k := range s {
		if _, ok := live[k]; !ok {
			delete(s, k)
			release(k)
		}
	}
}

// releaseAll releases every member and empties the set.
func (s *refSet[K]) releaseAll(release func(K)) {
	for k := range *s {
		release(k)
	}
	*s = nil
}

// copyTo adds to c every member that take accepts (taking its reference).
func (s refSet[K]) copyTo(c *refSet[K], take func(K) bool) {
	for k := range s {
		if take(k) {
			c.add(k)
		}
	}
}
