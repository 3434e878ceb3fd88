#!/usr/bin/env python3
"""Writes the seeds of the data set harnesses (npy, npz, idx, images) into fuzz/corpus/:
small valid files made with the standard library only (struct, zipfile, zlib, gzip).
Run from the repository root: python3 fuzz/seeds/make_data_seeds.py"""
import gzip
import io
import struct
import zipfile
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def npy(descr, shape, data, fortran=False, version=1):
    shape_s = "(" + "".join(f"{d}, " if len(shape) == 1 else f"{d}," for d in shape).rstrip(",") + ")"
    if len(shape) == 1:
        shape_s = f"({shape[0]},)"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_s)
    pre = 10 if version == 1 else 12
    header += " " * ((64 - (pre + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + data


def write(folder, name, data):
    p = CORPUS / folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def main():
    u8 = bytes(range(2 * 3 * 4))
    write("npy", "u1_nhw.npy", npy("|u1", (2, 3, 4), u8))
    write("npy", "f4_nchw.npy", npy("<f4", (2, 1, 2, 2), struct.pack("<8f", *[0.5 * i for i in range(8)])))
    write("npy", "f2_nd.npy", npy("<f2", (3, 2), struct.pack("<6H", *[0x3C00 + i for i in range(6)])))
    write("npy", "i8_fortran.npy", npy("<i8", (2, 2, 2), struct.pack("<8q", *range(8)), fortran=True))
    write("npy", "v2_nhwc.npy", npy("<u2", (2, 2, 2, 3), struct.pack("<24H", *range(24)), version=2))

    for compression, name in ((zipfile.ZIP_STORED, "stored.npz"), (zipfile.ZIP_DEFLATED, "deflated.npz")):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression) as z:
            z.writestr("x.npy", npy("|u1", (3, 2, 2), bytes(range(12))))
            z.writestr("y.npy", npy("<i8", (3,), struct.pack("<3q", 0, 1, 2)))
        write("npz", name, buf.getvalue())

    # IDX: two bytes (little endian) give the images file's length, the labels file follows.
    images = struct.pack(">IIII", 0x803, 3, 2, 2) + bytes(range(12))
    labels = struct.pack(">II", 0x801, 3) + bytes([0, 1, 2])
    write("idx", "raw.idx", struct.pack("<H", len(images)) + images + labels)
    gi, gl = gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)
    write("idx", "gzip.idx", struct.pack("<H", len(gi)) + gi + gl)

    # Images: the first byte picks the extension (0 png, 1 jpg, 2 bmp, 3 gif, 4 pgm, 5 tga).
    def png(w, h, channels):
        color = {1: 0, 3: 2, 4: 6}[channels]
        raw = b"".join(b"\x00" + bytes((x * 40 + y * 7 + c * 50) % 256 for x in range(w) for c in range(channels)) for y in range(h))
        chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) + \
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    write("images", "rgb.png", b"\x00" + png(5, 3, 3))
    write("images", "gray.png", b"\x00" + png(4, 4, 1))
    write("images", "rgba.png", b"\x00" + png(3, 2, 4))
    w, h = 3, 2
    row = bytes((x * 60 + c) % 256 for x in range(w) for c in range(3))
    row += b"\x00" * ((4 - len(row) % 4) % 4)
    pixels = row * h
    bmp = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + \
        struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0) + pixels
    write("images", "rgb.bmp", b"\x02" + bmp)
    write("images", "gray.pgm", b"\x04" + b"P5\n4 3\n255\n" + bytes(range(0, 240, 20)))


if __name__ == "__main__":
    main()
