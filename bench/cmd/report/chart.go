package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/litebox-go/litebox/bench"
)

// Colours of the sandboxes' bars.
var barColors = map[string]color.RGBA{
	bench.LiteboxPtrace:  {31, 119, 180, 255},
	bench.LiteboxSystrap: {44, 160, 44, 255},
	bench.GVisor:         {255, 127, 14, 255},
	bench.Bwrap:          {148, 103, 189, 255},
}

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{0, 0, 0, 255}
	gray      = color.RGBA{120, 120, 120, 255}
	gridGray  = color.RGBA{222, 222, 222, 255}
	bandColor = color.RGBA{246, 246, 246, 255}
)

// Geometry of the chart, in pixels. The font is 7×13.
const (
	chartWidth = 1000
	charW      = 7
	labelRight = 150 // right edge of the row labels
	plotLeft   = 160
	plotRight  = chartWidth - 80 // room for the value labels
	plotTop    = 62
	barH       = 11
	barGap     = 2
	groupGap   = 12
)

// writeChart draws the ratios to native of every row as groups of
// horizontal bars, one per sandbox, on a log scale, and writes the PNG.
// Below it, if the density rows were measured, their section
// (drawDensityChart).
func writeChart(path string, out *Report) error {
	var bars *image.RGBA
	if len(out.Measurements) > 0 {
		bars = drawChart(out)
	}
	img := stack(bars, drawDensityChart(out))
	if img == nil {
		return fmt.Errorf("no rows to draw")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func drawChart(out *Report) *image.RGBA {
	// Every sandbox is in the legend; those that could not run have no
	// bars.
	var legend, sandboxes []SystemInfo
	for _, s := range out.Systems {
		if s.Name == bench.Native {
			continue
		}
		legend = append(legend, s)
		if s.Unavailable == "" {
			sandboxes = append(sandboxes, s)
		}
	}
	nb := max(len(sandboxes), 1)
	groupH := nb*(barH+barGap) - barGap + groupGap
	plotBottom := plotTop + len(out.Measurements)*groupH
	height := plotBottom + 40

	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	fill(img, img.Bounds(), white)

	lo, hi := 1.0, 1.0
	for _, m := range out.Measurements {
		for _, r := range m.Results {
			if r.Ratio != nil && *r.Ratio > 0 {
				lo, hi = min(lo, *r.Ratio), max(hi, *r.Ratio)
			}
		}
	}
	axis := newLogAxis(lo, hi, plotLeft, plotRight)

	drawText(img, plotLeft, 18, fmt.Sprintf("Slowdown: time in the sandbox / time natively, or native rate / sandbox rate (medians; log scale; lower is better)"), black)
	x := plotLeft
	for _, s := range legend {
		fill(img, image.Rect(x, 30, x+12, 42), barColors[s.Name])
		label := s.Name
		if s.Unavailable != "" {
			label += " (" + shortStatus(s.Unavailable) + ")"
		}
		drawText(img, x+16, 40, label, black)
		x += 16 + charW*len(label) + 20
	}

	// Bands behind every other group, the grid, then the bars.
	for i := range out.Measurements {
		if i%2 == 1 {
			y := plotTop + i*groupH - groupGap/2
			fill(img, image.Rect(0, y, chartWidth, y+groupH), bandColor)
		}
	}
	for _, t := range axis.ticks() {
		tx := axis.x(t)
		c := gridGray
		if t == 1 {
			c = black
		}
		fill(img, image.Rect(tx, plotTop-groupGap/2, tx+1, plotBottom-groupGap/2+4), c)
		label := formatTick(t)
		drawText(img, tx-charW*len(label)/2, plotBottom+12, label, black)
	}
	x1 := axis.x(1)
	for i, m := range out.Measurements {
		y0 := plotTop + i*groupH
		drawText(img, labelRight-charW*len(m.Short), y0+(groupH-groupGap)/2+5, m.Short, black)
		for j, s := range sandboxes {
			y := y0 + j*(barH+barGap)
			var r *Result
			for _, res := range m.Results {
				if res.System == s.Name {
					r = res
				}
			}
			if r == nil || r.Ratio == nil || *r.Ratio <= 0 {
				status := "n/a"
				switch {
				case r != nil && r.Error != "":
					status = "failed"
				case r != nil && r.Unavailable != "":
					// A row the system cannot run (a network feature it lacks).
					status = shortStatus(r.Unavailable)
				case r != nil && r.Ratio != nil:
					// A per-operation cost drowned in start-up noise.
					status = formatRatioASCII(*r.Ratio) + " (not positive: noise)"
				}
				drawText(img, x1+4, y+barH-1, status, gray)
				continue
			}
			xr := axis.x(*r.Ratio)
			fill(img, image.Rect(min(x1, xr), y, max(x1, xr)+1, y+barH), barColors[s.Name])
			drawText(img, max(x1, xr)+4, y+barH-1, formatRatioASCII(*r.Ratio), black)
		}
	}
	return img
}

// shortStatus shortens an Unavailable reason for the legend.
func shortStatus(u string) string {
	if u == bench.NotInstalled {
		return u
	}
	return "unavailable"
}

// logAxis maps ratios to x coordinates on a log scale whose ends are
// "nice" values (1, 2 or 5 times a power of ten).
type logAxis struct {
	lo, hi         float64
	left, right    int
	logLo, logSpan float64
}

// niceValues are the candidate ends and ticks of the axis, ascending.
func niceValues() []float64 {
	var v []float64
	for e := -4; e <= 8; e++ {
		for _, m := range []float64{1, 2, 5} {
			v = append(v, m*math.Pow(10, float64(e)))
		}
	}
	return v
}

func newLogAxis(lo, hi float64, left, right int) logAxis {
	nice := niceValues()
	a := logAxis{lo: nice[0], hi: nice[len(nice)-1], left: left, right: right}
	for _, v := range nice {
		if v <= lo*(1+1e-9) {
			a.lo = v
		}
	}
	for i := len(nice) - 1; i >= 0; i-- {
		if nice[i] >= hi*(1-1e-9) && nice[i] > a.lo {
			a.hi = nice[i]
		}
	}
	a.logLo = math.Log(a.lo)
	a.logSpan = math.Log(a.hi) - a.logLo
	return a
}

func (a logAxis) x(v float64) int {
	v = min(max(v, a.lo), a.hi)
	return a.left + int(math.Round((math.Log(v)-a.logLo)/a.logSpan*float64(a.right-a.left)))
}

// ticks returns the nice values within the axis: all of them over up to
// two decades, else the powers of ten only (and the ends).
func (a logAxis) ticks() []float64 {
	decades := a.logSpan / math.Ln10
	var t []float64
	for i, v := range niceValues() {
		if v < a.lo*(1-1e-9) || v > a.hi*(1+1e-9) {
			continue
		}
		if decades > 2 && i%3 != 0 && v != a.lo && v != a.hi {
			continue
		}
		t = append(t, v)
	}
	return t
}

// formatTick prints an axis value as 0.5x, 1x, 20x or 1000x.
func formatTick(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%gx", v)
	}
	return fmt.Sprintf("%.0fx", v)
}

// formatRatioASCII is formatRatio with the x the 7×13 font has.
func formatRatioASCII(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.2fx", r)
	}
	return fmt.Sprintf("%.1fx", r)
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// drawText writes s with its baseline at y.
func drawText(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
