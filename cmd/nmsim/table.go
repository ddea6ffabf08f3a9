package main

import (
	"flag"
	"slices"
	"strings"
	"unicode/utf8"
)

// defaultTableWidth is the widest a text table may be unless --wide is
// given: a terminal of 100 columns.
const defaultTableWidth = 100

// minColumnWidth is the narrowest a column is cut to when even its
// longest word does not fit.
const minColumnWidth = 4

// wideFlag is the --wide flag of a command that prints tables.
type wideFlag bool

func (f *wideFlag) register(fs *flag.FlagSet) {
	fs.BoolVar((*bool)(f), "wide", false, "print tables at full width (default: at most 100 columns, long cells wrapped and wide tables split)")
}

// width is the table width limit the flag asks for (0: none).
func (f wideFlag) width() int {
	if f {
		return 0
	}
	return defaultTableWidth
}

// tablePart is one table of a table split to fit a width.
type tablePart struct {
	header []string
	rows   [][]string
}

// fitTable lays header and rows out to be at most width columns wide when
// drawn with a box (0: no limit). A table that fits is returned as it is;
// else the widest columns are word-wrapped down to their longest word; if
// that is not enough, the columns are split into several tables that fit
// without wrapping, each repeating the first (key) column; a column too
// wide for any is wrapped in its own.
func fitTable(width int, header []string, rows [][]string) []tablePart {
	all := make([]int, len(header))
	for i := range all {
		all[i] = i
	}
	if width <= 0 || len(header) == 0 {
		return []tablePart{{header, rows}}
	}
	natural, words := columnWidths(header, rows)
	if boxWidth(natural, all) <= width {
		return []tablePart{{header, rows}}
	}
	groups := [][]int{all}
	if boxWidth(words, all) > width && len(header) > 2 {
		groups = [][]int{{0, 1}}
		for i := 2; i < len(header); i++ {
			g := &groups[len(groups)-1]
			if boxWidth(natural, append(slices.Clip(*g), i)) <= width {
				*g = append(*g, i)
			} else {
				groups = append(groups, []int{0, i})
			}
		}
	}
	parts := make([]tablePart, len(groups))
	for k, cols := range groups {
		widths := shrink(natural, words, cols, width)
		p := &parts[k]
		for j, c := range cols {
			p.header = append(p.header, wrap(header[c], widths[j]))
		}
		for _, r := range rows {
			row := make([]string, len(cols))
			for j, c := range cols {
				if c < len(r) {
					row[j] = wrap(r[c], widths[j])
				}
			}
			p.rows = append(p.rows, row)
		}
	}
	return parts
}

// shortCell is the length up to which a cell stays on one line: a number
// and its unit ("73.8 %", "1.46 ms") are not wrapped.
const shortCell = 10

// columnWidths returns each column's natural width (its longest line) and
// the narrowest it wraps to without breaking a word or a short cell.
func columnWidths(header []string, rows [][]string) (natural, words []int) {
	natural, words = make([]int, len(header)), make([]int, len(header))
	measure := func(i int, cell string, keepShort bool) {
		for _, line := range strings.Split(cell, "\n") {
			n := utf8.RuneCountInString(line)
			natural[i] = max(natural[i], n)
			if keepShort && n <= shortCell {
				words[i] = max(words[i], n)
				continue
			}
			for _, w := range strings.Fields(line) {
				words[i] = max(words[i], utf8.RuneCountInString(w))
			}
		}
	}
	for i, h := range header {
		measure(i, h, false)
	}
	for _, r := range rows {
		for i := 0; i < len(r) && i < len(header); i++ {
			measure(i, r[i], true)
		}
	}
	return natural, words
}

// boxWidth is the drawn width of the columns cols at widths w: each cell
// is padded by a space on both sides, and a border precedes each column
// and ends the line.
func boxWidth(w []int, cols []int) int {
	total := 1
	for _, c := range cols {
		total += w[c] + 3
	}
	return total
}

// shrink returns widths for cols, starting from the natural ones and
// narrowing the widest column by one at a time until the table fits
// width: first down to each column's longest word, then, if it must, down
// to minColumnWidth (breaking words).
func shrink(natural, words []int, cols []int, width int) []int {
	w := make([]int, len(cols))
	for j, c := range cols {
		w[j] = natural[c]
	}
	total := 1 + 3*len(cols)
	for _, x := range w {
		total += x
	}
	for _, floor := range []func(j int) int{
		func(j int) int { return min(natural[cols[j]], max(words[cols[j]], minColumnWidth)) },
		func(j int) int { return min(natural[cols[j]], minColumnWidth) },
	} {
		for total > width {
			widest := -1
			for j := range w {
				if w[j] > floor(j) && (widest < 0 || w[j] > w[widest]) {
					widest = j
				}
			}
			if widest < 0 {
				break
			}
			w[widest]--
			total--
		}
	}
	return w
}

// wrap breaks text into lines of at most width characters (0: no limit)
// at spaces, cutting words longer than a line.
func wrap(text string, width int) string {
	if width <= 0 || utf8.RuneCountInString(text) <= width && !strings.Contains(text, "\n") {
		return text
	}
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > width {
				if line != "" {
					lines = append(lines, line)
					line = ""
				}
				r := []rune(word)
				lines = append(lines, string(r[:width]))
				word = string(r[width:])
			}
			switch {
			case line == "":
				line = word
			case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
				line += " " + word
			default:
				lines = append(lines, line)
				line = word
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
