#!/usr/bin/env python3
"""Draws Threadline's toolbar/store icons (16, 32, 48, 128 px) as PNGs, with no dependency
beyond the standard library: a teal rounded square holding a white envelope whose flap is a
thread ending in a knot. Run from anywhere: writes icon-<size>.png next to this script."""

import math
import os
import struct
import zlib

TEAL = (14, 116, 144)
WHITE = (255, 255, 255)
AMBER = (245, 158, 11)
SUPERSAMPLE = 4


def rounded_rect(x, y, x0, y0, x1, y1, r):
    """True when (x, y) lies inside the rectangle with corner radius r."""
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def near_segment(x, y, ax, ay, bx, by, width):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    px, py = ax + t * dx, ay + t * dy
    return (x - px) ** 2 + (y - py) ** 2 <= (width / 2) ** 2


def colour_at(u, v):
    """Colour (r, g, b, a) of the point (u, v) in the unit square, or None for transparent."""
    if not rounded_rect(u, v, 0.0, 0.0, 1.0, 1.0, 0.22):
        return None
    # The knot at the end of the thread.
    if (u - 0.5) ** 2 + (v - 0.58) ** 2 <= 0.075 ** 2:
        return AMBER
    # Envelope body.
    if rounded_rect(u, v, 0.17, 0.27, 0.83, 0.75, 0.06):
        # The flap: two strokes from the top corners down to the knot.
        if near_segment(u, v, 0.2, 0.31, 0.5, 0.58, 0.075) or near_segment(u, v, 0.8, 0.31, 0.5, 0.58, 0.075):
            return TEAL
        return WHITE
    return TEAL


def render(size):
    rows = []
    n = SUPERSAMPLE
    for py in range(size):
        row = bytearray([0])  # filter type: none
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    c = colour_at((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size)
                    if c is not None:
                        acc[0] += c[0]
                        acc[1] += c[1]
                        acc[2] += c[2]
                        acc[3] += 1
            covered = acc[3]
            if covered:
                row += bytes([acc[0] // covered, acc[1] // covered, acc[2] // covered, round(255 * covered / (n * n))])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    return b"".join(rows)


def png(size, raw):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for size in (16, 32, 48, 128):
        path = os.path.join(here, f"icon-{size}.png")
        with open(path, "wb") as f:
            f.write(png(size, render(size)))
        print(path)


if __name__ == "__main__":
    main()
