#!/usr/bin/env python3
"""A second, independent reader of binary IMA lists, for the CLI tests.

It knows just enough of the format (kernel-interface.md §6) to cut a list
into records and to damage one on purpose; the tests then check that
imastore notices, and names the right record.

  ima_list.py count LIST WIDTH
  ima_list.py offsets LIST WIDTH
  ima_list.py mutate LIST WIDTH OUT data|digest|drop|truncate|dup K
"""
import struct
import sys


def records(buf, width):
    """Yield (offset, length, is_violation) for each record."""
    le = struct.unpack_from("<I", buf, 0)[0] < 24 if buf else True
    u32 = "<I" if le else ">I"
    pos = 0
    while pos < len(buf):
        start = pos
        pos += 4
        digest = buf[pos:pos + width]
        pos += width
        (nlen,) = struct.unpack_from(u32, buf, pos)
        pos += 4
        name = buf[pos:pos + nlen]
        pos += nlen
        if name == b"ima":
            pos += 20
            (plen,) = struct.unpack_from(u32, buf, pos)
            pos += 4 + plen
        else:
            (dlen,) = struct.unpack_from(u32, buf, pos)
            pos += 4 + dlen
        if pos > len(buf):
            raise SystemExit("truncated list")
        yield start, pos - start, digest == bytes(width)


def main():
    cmd, path, width = sys.argv[1], sys.argv[2], int(sys.argv[3])
    buf = open(path, "rb").read()
    recs = list(records(buf, width))
    if cmd == "count":
        print(len(recs))
        return
    if cmd == "offsets":
        for off, length, viol in recs:
            print(off, length, int(viol))
        return
    out, how, k = sys.argv[4], sys.argv[5], int(sys.argv[6])
    off, length, _ = recs[k]
    b = bytearray(buf)
    if how == "data":  # the last byte of the first field (the file digest)
        le = struct.unpack_from("<I", buf, 0)[0] < 24
        u32 = "<I" if le else ">I"
        p = off + 4 + width
        (nlen,) = struct.unpack_from(u32, buf, p)
        p += 4 + nlen
        if buf[p - nlen:p] == b"ima":
            b[p] ^= 0x01
        else:
            (flen,) = struct.unpack_from(u32, buf, p + 4)
            b[p + 8 + flen - 1] ^= 0x01
    elif how == "digest":
        b[off + 4] ^= 0x80
    elif how == "drop":
        del b[off:off + length]
    elif how == "truncate":  # keep records 0..k-1
        del b[off:]
    elif how == "dup":  # record k appears twice
        b[off + length:off + length] = buf[off:off + length]
    else:
        raise SystemExit("unknown mutation " + how)
    open(out, "wb").write(bytes(b))


if __name__ == "__main__":
    main()
