package hdf5

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// expected.json, written by testdata/gen.py: every object of every fixture
// as h5py reads it back.
type expectedFile struct {
	Superblock int                       `json:"superblock"`
	Objects    map[string]expectedObject `json:"objects"`
}

type expectedValue struct {
	Dtype  string `json:"dtype"`
	Shape  []int  `json:"shape"` // null for a null dataspace
	Values []any  `json:"values"`
}

type expectedObject struct {
	expectedValue
	Kind    string                   `json:"kind"`
	Members []string                 `json:"members"`
	Attrs   map[string]expectedValue `json:"attrs"`
	Layout  string                   `json:"layout"`
	Index   string                   `json:"index"`
	Filters []string                 `json:"filters"`
}

func loadExpected(t *testing.T) map[string]expectedFile {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	dec := json.NewDecoder(fh)
	dec.UseNumber() // uint64 values do not survive float64
	var exp map[string]expectedFile
	if err := dec.Decode(&exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

// TestFixtures reads every group, dataset and attribute of the h5py-written
// fixtures and compares them with what h5py read back.
func TestFixtures(t *testing.T) {
	for name, want := range loadExpected(t) {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.SuperblockVersion(); got != want.Superblock {
				t.Errorf("superblock version %d, want %d", got, want.Superblock)
			}
			var walked []string
			err = f.Walk(func(path string, obj Object) error {
				walked = append(walked, path)
				if obj.Path() != path {
					t.Errorf("%s: Path() = %s", path, obj.Path())
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for p := range want.Objects {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			slices.Sort(walked)
			if !slices.Equal(walked, paths) {
				t.Errorf("walked %v\nwant %v", walked, paths)
			}
			for _, path := range paths {
				checkObject(t, f, path, want.Objects[path])
			}
		})
	}
}

func checkObject(t *testing.T, f *File, path string, want expectedObject) {
	t.Helper()
	obj, err := f.Root().Object(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	attrs, err := obj.Attrs()
	if err != nil {
		t.Errorf("%s: %v", path, err)
	} else {
		var names []string
		for n := range want.Attrs {
			names = append(names, n)
			got, ok := attrs[n]
			if !ok {
				t.Errorf("%s: no attribute %q", path, n)
				continue
			}
			checkValue(t, path+" attribute "+n, got, want.Attrs[n])
		}
		if len(attrs) != len(names) {
			t.Errorf("%s: %d attributes, want %d", path, len(attrs), len(names))
		}
	}
	switch o := obj.(type) {
	case *Group:
		if want.Kind != "group" {
			t.Errorf("%s: a group, want a %s", path, want.Kind)
		}
		if got := o.Members(); !slices.Equal(got, want.Members) {
			t.Errorf("%s: members %v, want %v", path, got, want.Members)
		}
	case *Dataset:
		if want.Kind != "dataset" {
			t.Errorf("%s: a dataset, want a %s", path, want.Kind)
		}
		l := o.Layout()
		if l.Class != want.Layout || l.Index != want.Index || !slices.Equal(l.Filters, want.Filters) {
			t.Errorf("%s: layout %+v, want %s %q %v", path, l, want.Layout, want.Index, want.Filters)
		}
		if !slices.Equal(o.Shape(), want.Shape) || (o.Shape() == nil) != (want.Shape == nil) {
			t.Errorf("%s: shape %v, want %v", path, o.Shape(), want.Shape)
		}
		if got := o.Dtype().String(); got != want.Dtype {
			t.Errorf("%s: dtype %s, want %s", path, got, want.Dtype)
		}
		v, err := o.Read()
		if err != nil {
			t.Errorf("%v", err)
			return
		}
		checkValue(t, path, v, want.expectedValue)
	}
}

func checkValue(t *testing.T, what string, got Value, want expectedValue) {
	t.Helper()
	if got.Type.String() != want.Dtype {
		t.Errorf("%s: dtype %s, want %s", what, got.Type, want.Dtype)
	}
	if !slices.Equal(got.Shape, want.Shape) || (got.Shape == nil) != (want.Shape == nil) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	if got.Len() != len(want.Values) {
		t.Errorf("%s: %d values, want %d", what, got.Len(), len(want.Values))
		return
	}
	bad := func(i int, g, w any) {
		t.Errorf("%s: value %d is %v, want %v", what, i, g, w)
	}
	switch {
	case want.Dtype == "str" || strings.HasPrefix(want.Dtype, "|S"):
		s, err := got.Strings()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for i, w := range want.Values {
			if s[i] != w.(string) {
				bad(i, s[i], w)
			}
		}
	case want.Dtype == "|b1":
		b, err := got.Bools()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for i, w := range want.Values {
			if b[i] != w.(bool) {
				bad(i, b[i], w)
			}
		}
	case strings.Contains(want.Dtype, "f"):
		x, err := got.Float64s()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for i, w := range want.Values {
			wf, err := strconv.ParseFloat(w.(string), 64)
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(x[i]) != math.Float64bits(wf) && !(math.IsNaN(x[i]) && math.IsNaN(wf)) {
				bad(i, x[i], wf)
			}
		}
	case strings.Contains(want.Dtype, "u"):
		x, err := got.Uint64s()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for i, w := range want.Values {
			if strconv.FormatUint(x[i], 10) != w.(json.Number).String() {
				bad(i, x[i], w)
			}
		}
	default:
		x, err := got.Int64s()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for i, w := range want.Values {
			if strconv.FormatInt(x[i], 10) != w.(json.Number).String() {
				bad(i, x[i], w)
			}
		}
	}
}

func TestLinks(t *testing.T) {
	for _, name := range []string{"earliest.h5", "v108.h5", "latest.h5"} {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			links, err := f.Root().Group("links")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := links.Members(), []string{"dangling", "external", "hard", "loop", "soft"}; !slices.Equal(got, want) {
				t.Errorf("members %v, want %v", got, want)
			}
			soft, err := links.Dataset("soft")
			if err != nil {
				t.Fatal(err)
			}
			x, err := soft.Int64s()
			if err != nil || len(x) != 7 || x[0] != math.MinInt32 {
				t.Errorf("soft link to /num/i4le reads %v, %v", x, err)
			}
			if _, err := links.Object("dangling"); !errors.Is(err, ErrNotFound) {
				t.Errorf("dangling soft link: %v, want ErrNotFound", err)
			}
			if _, err := links.Object("external"); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "other.h5:/x") {
				t.Errorf("external link: %v, want ErrUnsupported naming other.h5:/x", err)
			}
			if _, err := f.Root().Object("types/t"); err == nil || !strings.Contains(err.Error(), "committed datatype") {
				t.Errorf("committed datatype: %v", err)
			}
			up, err := links.Group("loop/up/loop/up")
			if err != nil || up.Path() != "/links/loop/up/loop/up" {
				t.Errorf("cycle: %v, %v", up, err)
			}
			if _, err := f.Root().Dataset("/links"); err == nil {
				t.Error("Dataset opened a group")
			}
			if _, err := links.Group("soft"); err == nil {
				t.Error("Group opened a dataset")
			}
			if _, err := f.Root().Object("num/i4le/x"); err == nil {
				t.Error("a path through a dataset resolved")
			}
			for path, want := range map[string]string{"": "/links", "/": "/", "loop//up/": "/links/loop/up", "soft": "/links/soft"} {
				if obj, err := links.Object(path); err != nil || obj.Path() != want {
					t.Errorf("Object(%q): %v, %v; want path %s", path, obj, err, want)
				}
			}
		})
	}
}

// TestLookup3 checks the checksum against the values published with
// lookup3.c.
func TestLookup3(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0xdeadbeef},
		{"Four score and seven years ago", 0x17770551},
	} {
		if got := lookup3([]byte(c.in)); got != c.want {
			t.Errorf("lookup3(%q) = 0x%08x, want 0x%08x", c.in, got, c.want)
		}
	}
}
