package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/workloads/model"
)

// fileKind is what a file holds, judged by its first bytes; the value is
// how a message names it.
type fileKind string

const (
	kindUnknown fileKind = ""
	kindModel   fileKind = "a model.bin"
	kindNIR     fileKind = "an HDF5 (NIR) file"
	kindArch    fileKind = "an arch file"
	kindSweep   fileKind = "a sweep file"
	kindText    fileKind = "a text file"
)

// argKinds are the kinds of file each positional argument name of the
// commands' usage accepts. A text file that is neither an arch nor a sweep
// file passes as either, so that their parsers can say what is wrong in it.
var argKinds = map[string][]fileKind{
	"arch.toml":           {kindArch, kindText},
	"sweep.toml":          {kindSweep, kindText},
	"model.bin":           {kindModel},
	"model.nir":           {kindNIR},
	"model.bin|model.nir": {kindModel, kindNIR},
}

// sniffLen is how much of a file sniff reads: enough for the HDF5
// signature at any of its first offsets and for the tables of a TOML file.
const sniffLen = 64 << 10

// hdf5Signature begins an HDF5 superblock, at offset 0 or after a user
// block of 512, 1024, 2048, … bytes.
const hdf5Signature = "\x89HDF\r\n\x1a\n"

var (
	sweepKeyRE = regexp.MustCompile(`(?m)^\s*(models\s*=|\[axes\])`)
	archKeyRE  = regexp.MustCompile(`(?m)^\s*\[?\s*(` + strings.Join(archTables(), "|") + `)\s*[.\]]`)
)

// archTables are the top-level tables of arch.toml.
func archTables() []string {
	var tables []string
	for _, k := range arch.Default().Keys() {
		t, _, _ := strings.Cut(k, ".")
		if !slices.Contains(tables, t) {
			tables = append(tables, regexp.QuoteMeta(t))
		}
	}
	return tables
}

// sniff says what the file at path holds, or kindUnknown when it cannot
// be read or is none of the kinds nmsim reads (the loader then says why).
func sniff(path string) fileKind {
	f, err := os.Open(path)
	if err != nil {
		return kindUnknown
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return kindUnknown
	}
	return sniffBytes(head[:n])
}

func sniffBytes(b []byte) fileKind {
	for off := 0; off+len(hdf5Signature) <= len(b); off = max(512, 2*off) {
		if string(b[off:off+len(hdf5Signature)]) == hdf5Signature {
			return kindNIR
		}
	}
	// safetensors: a little-endian header length, then the JSON header.
	if len(b) > 8 && binary.LittleEndian.Uint64(b) <= model.MaxHeaderLen && b[8] == '{' {
		return kindModel
	}
	if len(b) == 0 || bytes.IndexByte(b, 0) >= 0 {
		return kindUnknown
	}
	// A cut at sniffLen may split a character.
	if !utf8.Valid(b) && (len(b) < sniffLen || !utf8.Valid(b[:len(b)-utf8.UTFMax])) {
		return kindUnknown
	}
	switch {
	case sweepKeyRE.Match(b):
		return kindSweep
	case archKeyRE.Match(b):
		return kindArch
	}
	return kindText
}

// checkArgKinds makes sure each positional argument holds what its name in
// the usage says (the last name repeats for further arguments): a model
// where a model belongs, an arch file where an arch file belongs. A file
// that cannot be sniffed passes; its loader reports it.
func checkArgKinds(fs *flag.FlagSet, pos, names []string) error {
	kinds := make([]fileKind, len(pos))
	wantAt := func(i int) string { return names[min(i, len(names)-1)] }
	fits := func(k fileKind, name string) bool {
		want, checked := argKinds[name]
		return !checked || k == kindUnknown || slices.Contains(want, k)
	}
	bad := -1
	for i, p := range pos {
		kinds[i] = sniff(p)
		if bad < 0 && !fits(kinds[i], wantAt(i)) {
			bad = i
		}
	}
	if bad < 0 {
		return nil
	}
	usage := "nmsim " + fs.Name() + " " + strings.Join(names, " ")
	if len(pos) == 2 && len(names) == 2 && kinds[0] != kinds[1] && fits(kinds[0], names[1]) && fits(kinds[1], names[0]) {
		return usageErr(fs, "the arguments are the wrong way round: %s is %s and %s is %s (usage: %s)",
			pos[0], kinds[0], pos[1], kinds[1], usage)
	}
	want := argKinds[wantAt(bad)][0]
	msg := fmt.Sprintf("the %s argument, %s, is %s, not %s", ordinal(bad+1), pos[bad], kinds[bad], want)
	switch {
	case want == kindModel && kinds[bad] == kindNIR:
		msg += fmt.Sprintf("; convert it first: nmsim import %s -o model.bin", pos[bad])
	case want == kindArch && kinds[bad] == kindSweep:
		msg += fmt.Sprintf("; run it with: nmsim sweep %s", pos[bad])
	case want == kindNIR && kinds[bad] == kindModel:
		msg += "; nmsim reads it as it is (nmsim export writes a NIR graph from it)"
	}
	return usageErr(fs, "%s (usage: %s)", msg, usage)
}

// ordinal writes 1 as "first", 2 as "second", … and from 10 on "10th",
// "21st", "22nd", "23rd".
func ordinal(n int) string {
	if w := []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"}; n >= 1 && n <= len(w) {
		return w[n-1]
	}
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprint(n) + suffix
}
