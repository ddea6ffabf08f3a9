package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/nmsim/nmsim/internal/atomicfile"
	"github.com/nmsim/nmsim/report"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// setFlags collects repeated --set key=value overrides.
type setFlags []string

func (s *setFlags) String() string { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want key=value, e.g. crossbar.adc_bits=4")
	}
	*s = append(*s, v)
	return nil
}

// flagRule is one condition on a flag's value, for checkFlags.
type flagRule struct {
	flag string // as the help writes it: "--timesteps"
	val  any    // the value given
	ok   bool   // whether it meets the rule
	want string // what the rule asks: "≥ 1", "in 2..8"
}

// checkFlags returns the first broken rule as "--timesteps -1: must be
// ≥ 1", or nil.
func checkFlags(rules ...flagRule) error {
	for _, r := range rules {
		if !r.ok {
			return fmt.Errorf("%s %v: must be %s", r.flag, r.val, r.want)
		}
	}
	return nil
}

// writeJSON writes v, indented, atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

// table renders rows under header, at most width columns wide (0: no
// limit; see fitTable), as one table or several.
func table(w io.Writer, width int, header []string, rows [][]string) {
	for i, p := range fitTable(width, header, rows) {
		if i > 0 {
			fmt.Fprintln(w)
		}
		t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
		h := make([]any, len(p.header))
		for i, s := range p.header {
			h[i] = s
		}
		t.Header(h...)
		for _, r := range p.rows {
			t.Append(r)
		}
		t.Render()
	}
}

// formatTable renders rows under header as a terminal table ("text", at
// most defaultTableWidth columns wide), a GitHub Markdown table ("md") or a
// booktabs LaTeX tabular ("latex").
func formatTable(w io.Writer, format string, header []string, rows [][]string) error {
	if format == "text" {
		table(w, defaultTableWidth, header, rows)
		return nil
	}
	t := &report.Table{}
	for _, h := range header {
		t.Columns = append(t.Columns, report.Column{Name: h})
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, report.TableRow{Text: r})
	}
	return t.Write(w, format)
}

// si formats v with an SI prefix and unit.
func si(v float64, unit string) string {
	prefixes := []struct {
		f float64
		p string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}, {1e-3, "m"}, {1e-6, "µ"}, {1e-9, "n"}, {1e-12, "p"}, {1e-15, "f"}}
	if v == 0 {
		return "0 " + unit
	}
	for _, p := range prefixes {
		if v >= p.f || p.p == "f" {
			return fmt.Sprintf("%.3g %s%s", v/p.f, p.p, unit)
		}
	}
	return fmt.Sprintf("%g %s", v, unit)
}

// startCPUProfile profiles until the returned stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
