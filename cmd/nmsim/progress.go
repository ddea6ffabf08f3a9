package main

import (
	"io"
	"os"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"
)

// progress is a progress bar on stderr, silent when stderr is not a
// terminal so logs and CI output stay clean.
type progress struct {
	bar *pb.ProgressBar
}

// newProgress starts a bar of total steps labelled label.
func newProgress(w io.Writer, total int, label string) *progress {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return &progress{}
	}
	bar := pb.New(total)
	bar.SetWriter(w)
	bar.SetTemplateString(`{{string . "label"}} {{counters . }} {{bar . }} {{percent . }} {{rtime . "ETA %s"}}`)
	bar.Set("label", label)
	bar.Start()
	return &progress{bar: bar}
}

// Add advances the bar by n steps; safe for concurrent use.
func (p *progress) Add(n int) {
	if p.bar != nil {
		p.bar.Add(n)
	}
}

// Finish stops the bar.
func (p *progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
