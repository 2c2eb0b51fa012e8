package lock

import "math/rand/v2"

// tree is an interval treap of lock records ordered by (Start, seq), each
// node also knowing the largest End below it. That is what makes the
// queries the lock calls need cost O(log n + k) for k results, however many
// locks a file has: the records overlapping a range (conflicts, and the
// owner's own locks a request cuts or merges) are found without looking at
// the others. The zero value is an empty tree.
type tree struct {
	root *node
	n    int
}

type node struct {
	rec         *record
	left, right *node
	prio        uint32
	maxEnd      int64 // largest End in this subtree
}

// less orders records by Start, then by their unique sequence number.
func less(a, b *record) bool {
	return a.Start < b.Start || a.Start == b.Start && a.seq < b.seq
}

func (n *node) update() {
	n.maxEnd = n.rec.End
	if n.left != nil && n.left.maxEnd > n.maxEnd {
		n.maxEnd = n.left.maxEnd
	}
	if n.right != nil && n.right.maxEnd > n.maxEnd {
		n.maxEnd = n.right.maxEnd
	}
}

// split divides t into the nodes ordered before r and the rest.
func split(t *node, r *record) (lo, hi *node) {
	if t == nil {
		return nil, nil
	}
	if less(t.rec, r) {
		t.right, hi = split(t.right, r)
		t.update()
		return t, hi
	}
	lo, t.left = split(t.left, r)
	t.update()
	return lo, t
}

// merge joins a and b, every node of a ordered before every node of b.
func merge(a, b *node) *node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = merge(a.right, b)
		a.update()
		return a
	}
	b.left = merge(a, b.left)
	b.update()
	return b
}

func (t *tree) insert(r *record) {
	n := &node{rec: r, prio: rand.Uint32(), maxEnd: r.End}
	lo, hi := split(t.root, r)
	t.root = merge(merge(lo, n), hi)
	t.n++
}

// remove deletes r, which must be in the tree.
func (t *tree) remove(r *record) {
	lo, rest := split(t.root, r)
	next := *r
	next.seq++ // the first record ordered after r
	mid, hi := split(rest, &next)
	if mid != nil {
		t.n--
	}
	t.root = merge(lo, hi)
}

// overlapping calls fn, in order, for each record that overlaps
// [start, end], until fn returns false.
func (t *tree) overlapping(start, end int64, fn func(*record) bool) {
	visit(t.root, start, end, fn)
}

func visit(n *node, start, end int64, fn func(*record) bool) bool {
	if n == nil || n.maxEnd < start {
		return true // nothing here reaches the range
	}
	if !visit(n.left, start, end, fn) {
		return false
	}
	if n.rec.Start > end {
		return true // this node and all to its right start past the range
	}
	if n.rec.End >= start && !fn(n.rec) {
		return false
	}
	return visit(n.right, start, end, fn)
}

// all returns every record in order.
func (t *tree) all() []*record {
	out := make([]*record, 0, t.n)
	t.overlapping(0, ToEOF, func(r *record) bool { out = append(out, r); return true })
	return out
}
