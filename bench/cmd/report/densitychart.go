package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"slices"

	"github.com/litebox-go/litebox/bench"
)

// Geometry of the density section of the chart: two panels side by side,
// start-up latency and memory per sandbox against N.
const (
	densityTop    = 86 // top of the plots
	densityPlotH  = 300
	densityHeight = densityTop + densityPlotH + 48
	panelW        = 400
)

// panelLefts are the left edges of the two panels' plots.
var panelLefts = [2]int{70, 570}

// lineColor is the colour of a system's line: the bar chart's, and two
// more for the columns only the density rows have.
func lineColor(system string) color.RGBA {
	switch system {
	case bench.Native:
		return color.RGBA{60, 60, 60, 255}
	case bench.LiteboxMulti:
		return color.RGBA{214, 39, 40, 255}
	}
	if c, ok := barColors[system]; ok {
		return c
	}
	return gray
}

// densityPanel is one plot: a value per system and N.
type densityPanel struct {
	title string
	value func(d *bench.Density) float64 // in the panel's unit
}

var densityPanels = [2]densityPanel{
	{"start-up p50, ms (log scale)", func(d *bench.Density) float64 { return float64(d.StartP50Ns) / 1e6 }},
	{"PSS per sandbox, MB (log scale)", func(d *bench.Density) float64 { return d.PSS / 1e6 }},
}

// drawDensityChart draws the density rows, or returns nil if there are
// none: per panel one line per system over N, the Ns evenly spaced.
func drawDensityChart(out *Report) *image.RGBA {
	if len(out.Density) == 0 {
		return nil
	}
	var systems []string
	var counts []int
	for _, r := range out.Density {
		if !slices.Contains(systems, r.System) {
			systems = append(systems, r.System)
		}
		if !slices.Contains(counts, r.N) {
			counts = append(counts, r.N)
		}
	}
	slices.Sort(counts)

	img := image.NewRGBA(image.Rect(0, 0, chartWidth, densityHeight))
	fill(img, img.Bounds(), white)
	drawText(img, panelLefts[0], 18, fmt.Sprintf("Density: N idle python3 sandboxes at once, %d starts in flight; PSS summed over every process / N", bench.DensityInFlight), black)
	x := panelLefts[0]
	for _, s := range systems {
		label := s
		if !slices.ContainsFunc(out.Density, func(r *DensityResult) bool { return r.System == s && r.Density != nil }) {
			label += " (no figures)"
		}
		fill(img, image.Rect(x, 30, x+12, 42), lineColor(s))
		drawText(img, x+16, 40, label, black)
		x += 16 + charW*len(label) + 20
	}

	bottom := densityTop + densityPlotH
	for pi, p := range densityPanels {
		left := panelLefts[pi]
		right := left + panelW
		drawText(img, left, densityTop-12, p.title, black)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range out.Density {
			if r.Density != nil {
				if v := p.value(r.Density); v > 0 {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
		if math.IsInf(lo, 1) {
			lo, hi = 1, 1
		}
		axis := newLogAxis(lo, hi, 0, densityPlotH)
		y := func(v float64) int { return bottom - axis.x(v) }
		for _, t := range axis.ticks() {
			ty := y(t)
			fill(img, image.Rect(left, ty, right, ty+1), gridGray)
			label := fmt.Sprintf("%g", t)
			drawText(img, left-6-charW*len(label), ty+4, label, black)
		}
		fill(img, image.Rect(left, densityTop, left+1, bottom+1), black)
		fill(img, image.Rect(left, bottom, right, bottom+1), black)
		xOf := func(i int) int {
			if len(counts) == 1 {
				return (left + right) / 2
			}
			return left + 20 + i*(panelW-40)/(len(counts)-1)
		}
		for i, n := range counts {
			label := fmt.Sprintf("N=%d", n)
			drawText(img, xOf(i)-charW*len(label)/2, bottom+16, label, black)
		}
		drawText(img, (left+right)/2-charW*7, bottom+34, "sandboxes (N)", gray)
		for _, s := range systems {
			c := lineColor(s)
			havePrev := false
			var px, py int
			for i, n := range counts {
				idx := slices.IndexFunc(out.Density, func(r *DensityResult) bool { return r.System == s && r.N == n })
				if idx < 0 || out.Density[idx].Density == nil || p.value(out.Density[idx].Density) <= 0 {
					havePrev = false
					continue
				}
				cx, cy := xOf(i), y(p.value(out.Density[idx].Density))
				if havePrev {
					drawLine(img, px, py, cx, cy, c)
				}
				fill(img, image.Rect(cx-3, cy-3, cx+4, cy+4), c)
				px, py, havePrev = cx, cy, true
			}
		}
	}
	return img
}

// drawLine draws a line two pixels thick from (x0, y0) to (x1, y1).
func drawLine(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	steps := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= steps; i++ {
		x := x0 + (x1-x0)*i/steps
		y := y0 + (y1-y0)*i/steps
		fill(img, image.Rect(x-1, y-1, x+1, y+1), c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// stack puts the images one under the other (nil ones left out), or
// returns nil if all are nil.
func stack(imgs ...*image.RGBA) *image.RGBA {
	w, h := 0, 0
	for _, im := range imgs {
		if im != nil {
			w, h = max(w, im.Bounds().Dx()), h+im.Bounds().Dy()
		}
	}
	if h == 0 {
		return nil
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(out, out.Bounds(), white)
	y := 0
	for _, im := range imgs {
		if im == nil {
			continue
		}
		draw.Draw(out, im.Bounds().Add(image.Pt(0, y)), im, im.Bounds().Min, draw.Src)
		y += im.Bounds().Dy()
	}
	return out
}
