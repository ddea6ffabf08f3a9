package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Table is the swept points with their metrics: text rounded for people
// and exact values for machines.
type Table struct {
	Columns []Column
	Rows    []TableRow
	// Pareto names the metrics of the Pareto front ("" when none).
	Pareto string
	Notes  []string
}

// Column is one column. Unit is the unit of Text cells (with the prefix
// chosen for the column); CSV and JSON use BaseUnit and exact values.
type Column struct {
	Key      string // point key or metric name
	Name     string
	Unit     string
	BaseUnit string
	Numeric  bool
	Metric   bool // a metric, not a swept point value
}

// TableRow is one design point.
type TableRow struct {
	Key    string
	Text   []string
	Values []any
	Pareto bool
}

// Table builds the table of every point that ran, in sweep order. pareto
// names the metrics MarkPareto used, for the notes ("" when not marked).
func (d *Data) Table(pareto string) *Table {
	t := &Table{Pareto: pareto}
	short := shortNames(d.Swept)
	for _, k := range d.Swept {
		_, numeric := d.Rows[0].value(k)
		t.Columns = append(t.Columns, Column{Key: k, Name: short[k], Numeric: numeric})
	}
	ms := Metrics()
	scales := make([]float64, len(ms)) // of the SI-prefixed columns
	for i, m := range ms {
		c := Column{Key: m.Name, Name: m.Label, Unit: m.Unit, BaseUnit: m.Unit, Numeric: true, Metric: true}
		if m.SI {
			largest := 0.0
			for _, r := range d.Rows {
				largest = max(largest, math.Abs(m.value(r.Report)))
			}
			scale, prefix := siPrefix(largest)
			scales[i], c.Unit = scale, prefix+m.Unit
		}
		t.Columns = append(t.Columns, c)
	}
	// Accuracy is a count over the samples: show the digits that resolves
	// (100 samples: whole percent, 1000: one decimal, …).
	accDigits := max(0, int(math.Ceil(math.Log10(float64(max(d.Manifest.Samples, 1)))))-2)
	for _, r := range d.Rows {
		tr := TableRow{Key: r.Key, Pareto: r.Pareto}
		for _, k := range d.Swept {
			tr.Text = append(tr.Text, text(k, r.Point[k]))
			tr.Values = append(tr.Values, r.Point[k])
		}
		for i, m := range ms {
			v := m.value(r.Report)
			tr.Values = append(tr.Values, round15(v))
			switch {
			case m.Name == "accuracy":
				tr.Text = append(tr.Text, strconv.FormatFloat(v, 'f', accDigits, 64))
			case m.SI:
				tr.Text = append(tr.Text, sig(v/scales[i]))
			case m.Unit != "": // a quantity in a fixed unit, such as mm²
				tr.Text = append(tr.Text, sig(v))
			default:
				tr.Text = append(tr.Text, strconv.FormatFloat(v, 'f', 0, 64))
			}
		}
		t.Rows = append(t.Rows, tr)
	}
	if pareto != "" {
		n := 0
		for _, r := range d.Rows {
			if r.Pareto {
				n++
			}
		}
		t.Notes = append(t.Notes, fmt.Sprintf("★: Pareto-optimal in %s (%d of %d points).", pareto, n, len(d.Rows)))
	}
	m := d.Manifest
	t.Notes = append(t.Notes, fmt.Sprintf("%d %s test samples per point; accuracy is over those samples, the other metrics are means per inference.", m.Samples, m.Dataset))
	if n := len(d.Skipped); n > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("%s not listed: the model does not fit the chip.", points(n, "is", "are")))
	}
	if d.Missing > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("%s no result yet.", points(d.Missing, "has", "have")))
	}
	return t
}

// points is "1 point is" or "3 points are".
func points(n int, one, many string) string {
	s := fmt.Sprintf("%d point", n)
	if n != 1 {
		s += "s"
		one = many
	}
	return s + " " + one
}

// round15 drops the last digits of float noise (100 × 0.901 is
// 90.10000000000001) from exact values, keeping 15 significant digits.
func round15(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	return r
}

func (c Column) header(unit string) string {
	if unit == "" {
		return c.Name
	}
	return c.Name + " (" + unit + ")"
}

// Markdown writes a GitHub table: numbers right-aligned, a ★ column for
// the Pareto set, the notes below.
func (t *Table) Markdown(w io.Writer) error {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	var head, rule []string
	for _, c := range t.Columns {
		head = append(head, c.header(c.Unit))
		if c.Numeric {
			rule = append(rule, "--:")
		} else {
			rule = append(rule, ":--")
		}
	}
	if t.Pareto != "" {
		head, rule = append(head, "Pareto"), append(rule, ":-:")
	}
	row(head)
	row(rule)
	for _, r := range t.Rows {
		cells := append([]string(nil), r.Text...)
		if t.Pareto != "" {
			cells = append(cells, map[bool]string{true: "★", false: ""}[r.Pareto])
		}
		row(cells)
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n" + strings.Join(t.Notes, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// LaTeX writes a booktabs tabular (\usepackage{booktabs}), with the notes
// as a comment for the caption.
func (t *Table) LaTeX(w io.Writer) error {
	var b strings.Builder
	spec, head := "", []string{}
	for _, c := range t.Columns {
		spec += map[bool]string{true: "r", false: "l"}[c.Numeric]
		head = append(head, latexEscape(c.header(c.Unit)))
	}
	if t.Pareto != "" {
		spec += "c"
		head = append(head, "Pareto")
	}
	for _, n := range t.Notes {
		b.WriteString("% " + n + "\n")
	}
	b.WriteString("\\begin{tabular}{" + spec + "}\n\\toprule\n")
	b.WriteString(strings.Join(head, " & ") + " \\\\\n\\midrule\n")
	for _, r := range t.Rows {
		cells := make([]string, len(r.Text))
		for i, s := range r.Text {
			cells[i] = latexEscape(s)
		}
		if t.Pareto != "" {
			cells = append(cells, map[bool]string{true: "$\\star$", false: ""}[r.Pareto])
		}
		b.WriteString(strings.Join(cells, " & ") + " \\\\\n")
	}
	b.WriteString("\\bottomrule\n\\end{tabular}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func latexEscape(s string) string {
	r := strings.NewReplacer(`\`, `\textbackslash{}`, "_", `\_`, "%", `\%`, "&", `\&`, "#", `\#`, "$", `\$`,
		"{", `\{`, "}", `\}`, "~", `\textasciitilde{}`, "^", `\textasciicircum{}`, "µ", `$\mu$`)
	return r.Replace(s)
}

// CSV writes exact values in base units (J, s), the header naming them.
func (t *Table) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	var head []string
	for _, c := range t.Columns {
		head = append(head, c.header(c.BaseUnit))
	}
	head = append(head, "pareto", "key")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range t.Rows {
		var rec []string
		for _, v := range r.Values {
			if f, ok := v.(float64); ok {
				rec = append(rec, strconv.FormatFloat(f, 'g', -1, 64))
			} else {
				rec = append(rec, fmt.Sprint(v))
			}
		}
		rec = append(rec, strconv.FormatBool(r.Pareto), r.Key)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// JSON writes one object per point: key, point values, metrics in base
// units and the Pareto mark.
func (t *Table) JSON(w io.Writer) error {
	type point struct {
		Key     string             `json:"key"`
		Point   map[string]any     `json:"point"`
		Metrics map[string]float64 `json:"metrics"`
		Pareto  bool               `json:"pareto"`
	}
	out := make([]point, 0, len(t.Rows))
	for _, r := range t.Rows {
		p := point{Key: r.Key, Point: map[string]any{}, Metrics: map[string]float64{}, Pareto: r.Pareto}
		for i, c := range t.Columns {
			if c.Metric {
				name := c.Key
				switch c.BaseUnit {
				case "":
				case "%":
					name += "_pct"
				default:
					name += "_" + strings.ToLower(c.BaseUnit)
				}
				p.Metrics[name] = r.Values[i].(float64)
			} else {
				p.Point[c.Key] = r.Values[i]
			}
		}
		out = append(out, p)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// Write writes the table in a format: md, latex, csv or json.
func (t *Table) Write(w io.Writer, format string) error {
	switch format {
	case "md", "markdown":
		return t.Markdown(w)
	case "latex", "tex":
		return t.LaTeX(w)
	case "csv":
		return t.CSV(w)
	case "json":
		return t.JSON(w)
	}
	return fmt.Errorf("report: unknown format %q (md, latex, csv or json)", format)
}
