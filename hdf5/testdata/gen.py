#!/usr/bin/python3
"""Writes the HDF5 fixtures for the Go package hdf5 and what h5py reads back.

Run with Debian's python3-h5py (h5py 3.7 on HDF5 1.10.8), from this folder:

    /usr/bin/python3 gen.py

It writes, next to itself:

  earliest.h5   libver='earliest': superblock 0, version 1 object headers,
                symbol-table groups, layout version 3 (v1 B-tree chunk index)
  v108.h5       libver='v108': superblock 2, version 2 object headers,
                link-message groups, layout version 3
  latest.h5     libver='latest': superblock 3, version 2 object headers,
                layout version 4 with the single, implicit, fixed array,
                extensible array and v2 B-tree chunk indexes
  userblock.h5  a 512-byte user block before the superblock
  tiny_*.h5     small files that seed the fuzz corpus
  expected.json every group, dataset and attribute of every file above as
                h5py reads it back, so the Go tests need no Python
  fuzz/FuzzOpen/tiny_*  the tiny files as Go fuzz corpus entries

The same objects go into the first three files; which chunk index a dataset
gets depends on the libver and on its shape, maximum shape and filters, and
the "index" field in expected.json records what HDF5 chooses for each.
"""

import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

INT_VALUES = {
    "i1": [-128, -1, 0, 1, 127, 42, -7],
    "i2": [-32768, -1, 0, 1, 32767, 1234, -4321],
    "i4": [-2**31, -1, 0, 1, 2**31 - 1, 123456, -654321],
    "i8": [-2**63, -1, 0, 1, 2**63 - 1, 2**40 + 3, -(2**50) - 5],
    "u1": [0, 1, 2, 127, 128, 254, 255],
    "u2": [0, 1, 255, 256, 32768, 65534, 65535],
    "u4": [0, 1, 65535, 65536, 2**31, 2**32 - 2, 2**32 - 1],
    "u8": [0, 1, 2**32, 2**53 + 1, 2**63, 2**64 - 2, 2**64 - 1],
}
FLOAT_VALUES = [0.0, -0.0, 1.5, -2.25, 1e-3, 3.0e4, float("inf"), float("-inf"), float("nan")]


def numeric(f):
    g = f.create_group("num")
    for code, vals in INT_VALUES.items():
        for order, tag in (("<", "le"), (">", "be")):
            g.create_dataset(code + tag, data=np.array(vals, dtype=order + code))
    for code in ("f2", "f4", "f8"):
        for order, tag in (("<", "le"), (">", "be")):
            vals = FLOAT_VALUES + [np.finfo(code).max, np.finfo(code).tiny, -np.finfo(code).eps]
            g.create_dataset(code + tag, data=np.array(vals, dtype=order + code))


def shapes(f):
    g = f.create_group("shapes")
    g.create_dataset("scalar_f8", data=np.float64(2.5))
    g.create_dataset("scalar_i4", data=np.int32(-17))
    g.create_dataset("md_f4", data=np.arange(24, dtype="<f4").reshape(2, 3, 4) / 4)
    g.create_dataset("rank5_i2", data=np.arange(10, dtype=">i2").reshape(1, 2, 1, 1, 5))
    g.create_dataset("empty_f8", data=np.zeros((0,), dtype="<f8"))
    g.create_dataset("empty_2d", data=np.zeros((3, 0), dtype="<i4"))
    g.create_dataset("null", data=h5py.Empty("f4"))


def strings(f, index):
    g = f.create_group("str")
    g.create_dataset("fixed", data=np.array([b"ab", b"cdef", b"", b"ghijklmn"], dtype="S8"))
    g.create_dataset("fixed_scalar", data=np.bytes_(b"Conv2d"))
    utf8 = h5py.string_dtype("utf-8")
    ascii_ = h5py.string_dtype("ascii")
    g.create_dataset("vlen", data=["alpha", "", "gamma \u03b3", "x" * 300], dtype=utf8)
    g.create_dataset("vlen_ascii", data=[b"one", b"two"], dtype=ascii_)
    g.create_dataset("vlen_scalar", data="Affine", dtype=utf8)
    g.create_dataset("vlen_2d", data=np.array([["input", "0"], ["0", "1"], ["1", "output"]], dtype=object), dtype=utf8)
    g.create_dataset("vlen_chunked", data=["s%d" % i for i in range(10)], dtype=utf8,
                     chunks=(4,), compression="gzip", shuffle=True)
    index["/str/vlen_chunked"] = ("btree-v1", "fixed-array")
    g.create_dataset("fixed_utf8", data=np.array(["\u00e9t\u00e9".encode()], dtype="S8"))


def bools(f):
    g = f.create_group("bool")
    g.create_dataset("arr", data=np.array([True, False, True, True, False]))
    g.create_dataset("scalar", data=np.bool_(True))
    g.create_dataset("md", data=np.array([[True, False], [False, True], [True, True]]))


def lowlevel(g, name, arr, chunks=None, compact=False, early=False):
    """Creates a dataset through the low-level API, for the properties the
    high-level create_dataset has no argument for (compact layout, early
    allocation, which makes HDF5 pick the implicit chunk index)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    if compact:
        dcpl.set_layout(h5py.h5d.COMPACT)
    if chunks:
        dcpl.set_chunk(chunks)
    if early:
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    space = h5py.h5s.create_simple(arr.shape)
    tid = h5py.h5t.py_create(arr.dtype)
    dsid = h5py.h5d.create(g.id, name.encode(), tid, space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(arr))


def layouts(f, index, latest):
    """index maps a dataset path to the chunk index each libver gets."""
    g = f.create_group("layout")
    p = "/layout/"
    lowlevel(g, "compact", np.arange(10, dtype="<i4") * 3, compact=True)
    g.create_dataset("contiguous", data=np.linspace(-1, 1, 10))
    g.create_dataset("chunked", data=np.arange(100, dtype="<f4").reshape(10, 10), chunks=(3, 4))
    index[p + "chunked"] = ("btree-v1", "fixed-array")
    g.create_dataset("gzip_shuffle", data=(np.arange(600, dtype=">i8").reshape(20, 30) - 300) * 1000003,
                     chunks=(7, 8), compression="gzip", compression_opts=4, shuffle=True)
    index[p + "gzip_shuffle"] = ("btree-v1", "fixed-array")
    g.create_dataset("gzip", data=np.sin(np.arange(100)), chunks=(10,), compression="gzip")
    index[p + "gzip"] = ("btree-v1", "fixed-array")
    g.create_dataset("shuffle", data=np.arange(50, dtype="<i2") * 37, chunks=(16,), shuffle=True)
    index[p + "shuffle"] = ("btree-v1", "fixed-array")
    # 300 chunks: a v1 B-tree with internal nodes.
    g.create_dataset("many_chunks", data=(np.arange(600) % 251).astype("u1"), chunks=(2,))
    index[p + "many_chunks"] = ("btree-v1", "fixed-array")
    if latest:
        # More than 1024 chunks: the fixed array's data block is paged.
        g.create_dataset("paged", data=(np.arange(1100) % 241).astype("<i2"), chunks=(1,))
        index[p + "paged"] = ("", "fixed-array")
    g.create_dataset("single", data=np.arange(20, dtype="<i4").reshape(4, 5), chunks=(4, 5))
    index[p + "single"] = ("btree-v1", "single")
    g.create_dataset("single_gzip", data=np.arange(20, dtype="<f8").reshape(4, 5), chunks=(4, 5),
                     compression="gzip")
    index[p + "single_gzip"] = ("btree-v1", "single")
    lowlevel(g, "implicit", np.arange(49, dtype="<i4").reshape(7, 7), chunks=(3, 3), early=True)
    index[p + "implicit"] = ("btree-v1", "implicit")
    # One unlimited dimension: an extensible array; with 260 chunks, past the
    # 244 that the index block addresses, it uses a secondary block.
    n = 260 if latest else 20
    g.create_dataset("extensible", data=np.arange(n, dtype="<i2"), chunks=(1,), maxshape=(None,))
    index[p + "extensible"] = ("btree-v1", "extensible-array")
    g.create_dataset("extensible_gzip", data=np.arange(80, dtype="<f4").reshape(20, 4), chunks=(2, 4),
                     maxshape=(None, 4), compression="gzip", shuffle=True)
    index[p + "extensible_gzip"] = ("btree-v1", "extensible-array")
    # The unlimited dimension last: the extensible array numbers chunks with
    # it moved to the front.
    g.create_dataset("extensible_dim2", data=np.arange(30, dtype="<i4").reshape(2, 3, 5), chunks=(1, 2, 2),
                     maxshape=(2, 3, None))
    index[p + "extensible_dim2"] = ("btree-v1", "extensible-array")
    # A maximum shape above the shape: the fixed array covers the maximum.
    g.create_dataset("fixed_max", data=np.arange(20, dtype="<i2").reshape(5, 4), chunks=(2, 3), maxshape=(10, 8))
    index[p + "fixed_max"] = ("btree-v1", "fixed-array")
    # Two unlimited dimensions: a v2 B-tree; 100 chunks need internal nodes.
    g.create_dataset("btree2", data=np.arange(1600, dtype="<i4").reshape(40, 40), chunks=(4, 4),
                     maxshape=(None, None))
    index[p + "btree2"] = ("btree-v1", "btree-v2")
    g.create_dataset("btree2_gzip", data=np.arange(120, dtype=">f8").reshape(10, 12), chunks=(3, 5),
                     maxshape=(None, None), compression="gzip")
    index[p + "btree2_gzip"] = ("btree-v1", "btree-v2")
    # Chunks never written read as the fill value.
    d = g.create_dataset("fill_chunked", shape=(20,), dtype="<f4", chunks=(5,), fillvalue=-1.5)
    d[0:5] = np.arange(5)
    d[15:20] = np.arange(5) + 15
    index[p + "fill_chunked"] = ("btree-v1", "fixed-array")
    g.create_dataset("fill_contiguous", shape=(4,), dtype="<i4", fillvalue=7)


def attributes(f):
    g = f.create_group("attrs")
    for obj in (f, g):
        obj.attrs["int"] = np.int64(-3)
        obj.attrs["float_arr"] = np.array([0.5, 1.5, -2.5])
        obj.attrs["be_int"] = np.array([1, 256, -2], dtype=">i4")
        obj.attrs["fixed"] = np.bytes_(b"fixed str")
        obj.attrs["vlen"] = "vlen str \u00fc"
        obj.attrs["vlen_arr"] = np.array(["a", "bc", ""], dtype=h5py.string_dtype())
        obj.attrs["bool"] = np.bool_(False)
        obj.attrs["md"] = np.arange(6, dtype="<u2").reshape(2, 3)
        obj.attrs["empty"] = h5py.Empty("f8")
        obj.attrs["\u00fcnicode name"] = np.float32(1.25)
    d = g.create_dataset("with_attrs", data=np.arange(3, dtype="<f8"))
    d.attrs["units"] = "mV"
    d.attrs["scale"] = np.float32(0.5)
    # More than 8 attributes: dense attribute storage (fractal heap and v2
    # B-tree) in version 2 object headers.
    d = g.create_dataset("dense_attrs", data=np.int8(1))
    for i in range(20):
        d.attrs["a%02d" % i] = np.int32(i * i)
    d.attrs["s"] = "string in a dense attribute"


def groups(f):
    g = f.create_group("many")
    for i in range(40):
        g.create_dataset("m%02d" % i, data=np.int16(i))
    sub = g.create_group("nested/deeper/deepest")
    sub.create_dataset("leaf", data=np.array([1.0, 2.0]))
    t = f.create_group("ordered", track_order=True)
    for i in range(12):
        t.create_dataset("z%02d" % (11 - i), data=np.int8(i))
    f.create_group("empty_group")
    # Attributes added after the objects that follow them in the file make
    # the header grow into a continuation block.
    late = f["many/m00"]
    for i in range(6):
        late.attrs["late%d" % i] = np.arange(i + 4, dtype="<f8")


def links(f):
    g = f.create_group("links")
    g["soft"] = h5py.SoftLink("/num/i4le")
    g["hard"] = f["shapes/md_f4"]
    g["dangling"] = h5py.SoftLink("/no/such/object")
    g["external"] = h5py.ExternalLink("other.h5", "/x")
    g.create_group("loop")["up"] = g  # a cycle: /links/loop/up is /links
    f["types/t"] = np.dtype("<i4")
    f.create_dataset("types/committed", data=np.array([5, 6, 7], dtype="<i4"), dtype=f["types/t"])


def populate(f, which):
    index = {}
    numeric(f)
    shapes(f)
    strings(f, index)
    bools(f)
    layouts(f, index, which == "latest")
    attributes(f)
    groups(f)
    links(f)
    return {k: v[0 if which != "latest" else 1] for k, v in index.items()}


def tiny_earliest(f):
    g = f.create_group("g")
    g.attrs["name"] = "tiny"
    g.create_dataset("w", data=np.arange(6, dtype="<f4").reshape(2, 3))
    g.create_dataset("z", data=np.arange(12, dtype=">i8"), chunks=(5,), compression="gzip", shuffle=True)
    g.create_dataset("s", data=["a", "bb"], dtype=h5py.string_dtype())
    g.create_dataset("t", data=np.bytes_(b"IF"))
    lowlevel(g, "c", np.arange(3, dtype="<u2"), compact=True)
    return {"/g/z": "btree-v1"}


def tiny_latest(f):
    g = f.create_group("g")
    for i in range(9):
        g.create_dataset("d%d" % i, data=np.int8(i))
    d = g["d0"]
    for i in range(9):
        d.attrs["a%d" % i] = np.int16(i)
    g.create_dataset("fa", data=np.arange(12, dtype="<f8"), chunks=(5,), compression="gzip", shuffle=True)
    g.create_dataset("ea", data=np.arange(12, dtype="<i4"), chunks=(2,), maxshape=(None,))
    g.create_dataset("bt", data=np.arange(12, dtype="<i4").reshape(3, 4), chunks=(2, 2), maxshape=(None, None))
    g.create_dataset("s", data=["x", "yz"], dtype=h5py.string_dtype())
    return {"/g/fa": "fixed-array", "/g/ea": "extensible-array", "/g/bt": "btree-v2"}


def userblock(f):
    f.create_dataset("x", data=np.arange(4, dtype="<i2"))
    f.attrs["where"] = "after a user block"
    return {}


# --- reading back -----------------------------------------------------------

def dtype_str(dt):
    """The Go Datatype.String() spelling of a dtype h5py reports."""
    info = h5py.check_string_dtype(dt)
    if info is not None and info.length is None:
        return "str"
    if dt.kind == "S":
        return "|S%d" % dt.itemsize
    if dt.kind == "b":
        return "|b1"
    if dt.itemsize == 1:
        return "|" + dt.kind + "1"
    order = ">" if dt.byteorder == ">" else "<"
    return order + dt.kind + str(dt.itemsize)


def json_values(arr, dt):
    flat = np.asarray(arr).reshape(-1)
    info = h5py.check_string_dtype(dt)
    if info is not None:
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in flat.tolist()]
    if dt.kind == "f":
        return [repr(float(v)) for v in flat.tolist()]
    if dt.kind == "b":
        return [bool(v) for v in flat.tolist()]
    return [int(v) for v in flat.tolist()]


def describe_value(read, dt, shape):
    if shape is None:  # a null dataspace
        return {"dtype": dtype_str(dt), "shape": None, "values": []}
    info = h5py.check_string_dtype(dt)
    arr = read()
    if info is not None and info.length is None:
        arr = np.asarray(arr, dtype=object)
    return {"dtype": dtype_str(dt), "shape": list(shape), "values": json_values(arr, dt)}


def describe_attrs(obj):
    out = {}
    for name in obj.attrs:
        aid = obj.attrs.get_id(name)
        shape = aid.shape
        out[name] = describe_value(lambda: obj.attrs[name], aid.dtype, shape)
    return out


def describe_file(path, index):
    out = {}
    with h5py.File(path, "r") as f:
        def layout(ds):
            plist = ds.id.get_create_plist()
            cls = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous",
                   h5py.h5d.CHUNKED: "chunked"}[plist.get_layout()]
            filters = []
            for i in range(plist.get_nfilters()):
                code = plist.get_filter(i)[0]
                filters.append({h5py.h5z.FILTER_DEFLATE: "deflate", h5py.h5z.FILTER_SHUFFLE: "shuffle"}[code])
            return cls, filters

        def visit(name, obj):
            path = "/" + name
            if isinstance(obj, h5py.Group):
                out[path] = {"kind": "group", "members": sorted(obj.keys()), "attrs": describe_attrs(obj)}
            elif isinstance(obj, h5py.Dataset):
                cls, filters = layout(obj)
                shape = obj.shape
                d = describe_value(lambda: obj[()], obj.dtype, shape)
                d.update({"kind": "dataset", "layout": cls, "filters": filters,
                          "index": index.get(path, ""), "attrs": describe_attrs(obj)})
                if cls == "chunked" and not d["index"]:
                    raise SystemExit("no expected chunk index for " + path)
                out[path] = d

        visit("", f)
        f.visititems(visit)
        version = f.id.get_create_plist().get_version()[0]
    return {"superblock": version, "objects": out}


def go_corpus(data):
    """A Go fuzz corpus entry for data: the file format 'go test fuzz v1'."""
    body = []
    for b in data:
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C):
            body.append(chr(b))
        else:
            body.append("\\x%02x" % b)
    return 'go test fuzz v1\n[]byte("%s")\n' % "".join(body)


def main():
    expected = {}
    for name, libver, fill in (("earliest.h5", "earliest", populate),
                               ("v108.h5", ("v108", "v108"), populate),
                               ("latest.h5", "latest", populate),
                               ("userblock.h5", "earliest", userblock),
                               ("tiny_earliest.h5", "earliest", tiny_earliest),
                               ("tiny_latest.h5", "latest", tiny_latest)):
        path = os.path.join(HERE, name)
        kw = {"userblock_size": 512} if name == "userblock.h5" else {}
        with h5py.File(path, "w", libver=libver, **kw) as f:
            if fill is populate:
                index = populate(f, "latest" if libver == "latest" else "old")
            else:
                index = fill(f)
        expected[name] = describe_file(path, index)
        if name.startswith("tiny_"):
            with open(path, "rb") as src, open(os.path.join(HERE, "fuzz", "FuzzOpen", name[:-3]), "w") as dst:
                dst.write(go_corpus(src.read()))
    # One line per object keeps the file small and its diffs readable.
    with open(os.path.join(HERE, "expected.json"), "w") as out:
        out.write("{\n")
        for i, (name, desc) in enumerate(sorted(expected.items())):
            out.write('%s: {"superblock": %d, "objects": {\n' % (json.dumps(name), desc["superblock"]))
            objs = sorted(desc["objects"].items())
            for j, (path, obj) in enumerate(objs):
                out.write("  %s: %s%s\n" % (json.dumps(path, ensure_ascii=False),
                                            json.dumps(obj, sort_keys=True, ensure_ascii=False),
                                            "," if j + 1 < len(objs) else ""))
            out.write("}}%s\n" % ("," if i + 1 < len(expected) else ""))
        out.write("}\n")


if __name__ == "__main__":
    main()
