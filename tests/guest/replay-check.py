#!/usr/bin/env python3
"""Independent sanity check of a captured fixture (used by capture-fixtures.sh).

replay-check.py FIXTURE_DIR

Parses the binary list(s), recomputes every template digest for every bank the
TPM has, replays them (violation -> all 0xff) and compares with pcrs-<alg>.txt.
7.2 lists carry one bank each (binary_runtime_measurements_<alg>); the 6.1 list
carries SHA-1 template digests only, the other banks are recomputed (a bank the
kernel has no hash for is extended with the SHA-1 digest zero-padded).
Prints one summary line; exits 1 on any mismatch.
"""
import hashlib
import os
import struct
import sys

SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}


def parse(data, dsize, endian):
    """Yield (pcr, template_digest, name, template_data_for_hashing)."""
    off = 0
    u32 = endian + "I"
    while off < len(data):
        (pcr,) = struct.unpack_from(u32, data, off)
        off += 4
        digest = data[off:off + dsize]
        off += dsize
        (nlen,) = struct.unpack_from(u32, data, off)
        off += 4
        name = data[off:off + nlen].decode()
        off += nlen
        if name == "ima":
            # legacy: 20-byte digest, u32 len, name; hashed as digest +
            # name NUL-padded to 256 bytes.
            fdig = data[off:off + 20]
            off += 20
            (l,) = struct.unpack_from(u32, data, off)
            off += 4
            fname = data[off:off + l]
            off += l
            hashed = fdig + fname + b"\0" * (256 - len(fname))
        else:
            (tlen,) = struct.unpack_from(u32, data, off)
            off += 4
            raw = data[off:off + tlen]
            off += tlen
            # hashed: each field with its u32 length, in host (LE) order.
            hashed = b""
            p = 0
            while p < len(raw):
                (l,) = struct.unpack_from(u32, raw, p)
                hashed += struct.pack("<I", l) + raw[p + 4:p + 4 + l]
                p += 4 + l
            if p != len(raw):
                raise ValueError("template data overrun")
        yield pcr, digest, name, hashed


def read_pcrs(path):
    pcrs = {}
    with open(path) as f:
        for line in f:
            k, v = line.split(":")
            pcrs[int(k[4:])] = bytes.fromhex(v.strip())
    return pcrs


def main():
    d = sys.argv[1]
    endian = "<"  # x86: host order == little-endian (canonical or not)
    banks = sorted(f[5:-4] for f in os.listdir(d) if f.startswith("pcrs-") and f.endswith(".txt"))
    per_bank = os.path.exists(os.path.join(d, "binary_runtime_measurements_sha1"))
    problems = []
    notes = []
    for bank in banks:
        size = SIZES[bank]
        h = lambda b: hashlib.new(bank, b).digest()
        if per_bank:
            lst = os.path.join(d, "binary_runtime_measurements_" + bank)
            dsize = size
        else:
            lst = os.path.join(d, "binary_runtime_measurements")
            dsize = 20
        data = open(lst, "rb").read()
        pcr_vals = {}
        padded = 0
        n = 0
        for pcr, digest, name, hashed in parse(data, dsize, endian):
            n += 1
            violation = digest == b"\0" * dsize
            if violation:
                ext = b"\xff" * size
            else:
                calc = h(hashed)
                sha1pad = hashlib.sha1(hashed).digest() + b"\0" * (size - 20)
                if dsize == size:
                    if digest != calc:
                        if digest == sha1pad:
                            padded += 1
                        else:
                            problems.append("%s record %d: template digest mismatch" % (bank, n))
                    ext = digest
                else:
                    # 6.1: only the sha1 digest is in the list
                    if hashlib.sha1(hashed).digest() != digest:
                        problems.append("%s record %d: sha1 template digest mismatch" % (bank, n))
                    ext = calc
            old = pcr_vals.get(pcr, b"\0" * size)
            pcr_vals[pcr] = h(old + ext)
        tpm = read_pcrs(os.path.join(d, "pcrs-%s.txt" % bank))
        for pcr, v in sorted(pcr_vals.items()):
            if tpm.get(pcr) != v:
                if not per_bank and bank != "sha1":
                    # maybe the kernel had no such hash: SHA-1 padded
                    v2 = b"\0" * size
                    for pcr2, digest, name, hashed in parse(data, 20, endian):
                        if pcr2 != pcr:
                            continue
                        if digest == b"\0" * 20:
                            e = b"\xff" * size
                        else:
                            e = digest + b"\0" * (size - 20)
                        v2 = h(v2 + e)
                    if tpm.get(pcr) == v2:
                        notes.append("%s: kernel extended SHA-1 zero-padded" % bank)
                        continue
                problems.append("%s PCR %d: replay %s != TPM %s" % (bank, pcr, v.hex(), tpm.get(pcr, b"").hex()))
        if padded:
            notes.append("%s: %d template digests are SHA-1 zero-padded" % (bank, padded))
    if problems:
        for p in problems:
            print("replay-check: %s: %s" % (d, p))
        return 1
    print("replay-check: %s: %d banks replay to the TPM PCRs%s" % (
        os.path.basename(d.rstrip("/")), len(banks), (" (" + "; ".join(notes) + ")") if notes else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
