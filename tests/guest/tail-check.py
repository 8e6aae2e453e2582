#!/usr/bin/env python3
"""Host-side checks of the live stream captured by test-bpf.sh (section 1).

    tail-check.py FILES-DIR

FILES-DIR is what the guest put in /out:
  tail.json       `imastore tail -f --json -n 0` while the files were measured
  tail.txt        `imastore tail -f -n 0`, the same records as text
  tail-list.json  `imastore show --json` of the kernel's list of the bank the
                  stream's records carry (after imastored stopped: mirror mode,
                  nothing deleted, so its last records are the stream's)
  tail-meta.txt   "c0 N", "c1 N" (runtime_measurements_count before and after),
                  "list NAME", "long PATH" (the path over 1,024 bytes)

Prints one "PASS what" or "FAIL what" line per check; exits 0 unless it could
not run at all (then 2, after a FAIL line).
"""
import json
import re
import sys
from pathlib import Path

LEAD = ["seq", "source", "time", "truncated", "template_data_len"]
TIME_RE = re.compile(r"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX_RE = re.compile(r"^[0-9a-f]+$")
DATA_MAX = 1024  # IMACAPTURE_DATA_MAX

results = []


def check(ok, what):
    results.append(("PASS" if ok else "FAIL", what))
    return ok


def short(x, n=160):
    s = x if isinstance(x, str) else json.dumps(x)
    return s if len(s) <= n else s[:n] + "..."


def ima_ng_len(rec):
    """Template data length of an ima-ng record from its JSON form."""
    alg, _, hexd = rec["file_digest"].partition(":")
    return 4 + len(alg) + 2 + len(hexd) // 2 + 4 + len(rec["path"].encode()) + 1


def run(d):
    meta = {}
    for line in (d / "tail-meta.txt").read_text().splitlines():
        key, _, val = line.partition(" ")
        meta[key] = val
    c0, c1, long_path = int(meta["c0"]), int(meta["c1"]), meta["long"]
    listname = meta["list"]

    # 1. every line parses and has the members, in order, with their types
    raw = (d / "tail.json").read_text().splitlines()
    recs, bad = [], []
    for i, line in enumerate(raw, 1):
        try:
            recs.append(json.loads(line))
        except ValueError as e:
            bad.append(f"line {i}: {e}: {short(line)}")
    check(not bad and len(recs) == c1 - c0,
          f"tail.json: {len(recs)} lines, each one JSON object (count grew by {c1 - c0})"
          + (f"; {len(bad)} bad: {bad[0]}" if bad else ""))
    if not recs:
        return
    miss = []
    for r in recs:
        keys = list(r)
        want = LEAD + ["pcr", "template", "bank", "template_digest", "violation",
                       "file_digest", "path"]
        if keys[:len(LEAD)] != LEAD or any(k not in r for k in want):
            miss.append(f"seq {r.get('seq')}: members {keys}")
        elif not (isinstance(r["seq"], int) and r["source"] == "bpf"
                  and isinstance(r["time"], str) and TIME_RE.match(r["time"])
                  and isinstance(r["truncated"], bool)
                  and isinstance(r["template_data_len"], int)
                  and isinstance(r["pcr"], int)
                  and HEX_RE.match(r["template_digest"])
                  and isinstance(r["path"], str)):
            miss.append(f"seq {r.get('seq')}: types/values {short(r)}")
    check(not miss, "tail.json: every record has seq, source=bpf, time (ISO, UTC, us), "
          "truncated, template_data_len, pcr, template, bank, template_digest, file_digest, path"
          + (f"; {len(miss)} do not: {miss[0]}" if miss else ""))
    seqs = [r.get("seq") for r in recs]
    check(all(isinstance(s, int) for s in seqs)
          and all(a < b for a, b in zip(seqs, seqs[1:])),
          f"tail.json: seq strictly increasing ({seqs[0]} .. {seqs[-1]})")
    banks = sorted({str(r.get("bank")) for r in recs})
    check(len(banks) == 1 and listname in ("binary_runtime_measurements_" + banks[0],
                                           "binary_runtime_measurements"),
          f"tail.json: one bank {banks}, compared with {listname}")

    # 2. record for record against the list of that bank
    lst = [json.loads(x) for x in (d / "tail-list.json").read_text().splitlines()]
    if not check(len(lst) >= len(recs), f"{listname}: {len(lst)} records, the stream {len(recs)}"):
        return
    tail = lst[-len(recs):]
    diffs, cut = [], []
    for r, l in zip(recs, tail):
        rest = {k: v for k, v in r.items() if k not in LEAD}
        lrest = {k: v for k, v in l.items() if k != "index"}
        if r.get("truncated"):
            cut.append((r, l))
            same = all(rest.get(k) == lrest.get(k) for k in
                       ("pcr", "template", "bank", "template_digest", "violation",
                        "file_digest"))
        else:
            # members after template_data_len: exactly show --json's from "pcr" on
            same = list(rest.items()) == list(lrest.items())
        if not same:
            diffs.append(f"seq {r.get('seq')} vs index {l.get('index')}: "
                         f"{short(rest, 120)} != {short(lrest, 120)}")
    check(not diffs, f"tail.json = the last {len(recs)} records of {listname} "
          "(pcr, template, template_digest, file_digest, path; members in show --json's order)"
          + (f"; {len(diffs)} differ: {diffs[0]}" if diffs else ""))

    # 3. template_data_len of ima-ng records is the list's
    wrong = [f"seq {r['seq']}: {r['template_data_len']} != {ima_ng_len(l)}"
             for r, l in zip(recs, tail)
             if l.get("template") == "ima-ng" and "path" in l and "file_digest" in l
             and r.get("template_data_len") != ima_ng_len(l)]
    n_ng = sum(1 for l in tail if l.get("template") == "ima-ng")
    check(n_ng > 0 and not wrong,
          f"tail.json: template_data_len = the list's template data length ({n_ng} ima-ng records)"
          + (f"; {len(wrong)} wrong: {wrong[0]}" if wrong else ""))

    # 4. the one cut record is the long path's
    if check(len(cut) == 1, f"tail.json: {len(cut)} record(s) with truncated=true (1 expected)"):
        r, l = cut[0]
        p = r.get("path", "")
        check(l.get("path") == long_path and r["template_data_len"] > DATA_MAX
              and len(p) >= 900 and len(p) < len(long_path) and long_path.startswith(p),
              f"tail.json: the truncated record is the {len(long_path)}-byte path's: "
              f"template_data_len {r['template_data_len']} > {DATA_MAX}, path a {len(p)}-byte prefix")

    # 5. the text stream says the same: TIME SEQ, then the same record
    txt = (d / "tail.txt").read_text().splitlines()
    tdiff = []
    for i, (t, r) in enumerate(zip(txt, recs), 1):
        f = t.split(" ")
        trunc = f[-1] == "[truncated]"
        if trunc:
            f = f[:-1]
        want = [r["time"], str(r["seq"]), str(r["pcr"]), r["template"],
                r["template_digest"], r["file_digest"], r["path"]]
        if f != want or trunc != r["truncated"]:
            tdiff.append(f"line {i}: {short(t, 100)} vs {short(r, 100)}")
    check(len(txt) == len(recs) and not tdiff,
          f"tail.txt = tail.json line for line (time, seq, columns, [truncated]): {len(txt)} lines"
          + (f"; {len(tdiff)} differ: {tdiff[0]}" if tdiff else ""))


def main():
    if len(sys.argv) != 2:
        print("usage: tail-check.py FILES-DIR", file=sys.stderr)
        return 2
    rc = 0
    try:
        run(Path(sys.argv[1]))
    except Exception as e:  # noqa: BLE001 -- a missing file, a bad line: one FAIL
        check(False, f"tail-check.py could not run: {type(e).__name__}: {e}")
        rc = 2
    for verdict, what in results:
        print(f"{verdict} {what}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
