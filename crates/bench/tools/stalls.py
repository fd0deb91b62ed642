#!/usr/bin/env python3
"""Stalls in a `VISIO_BENCH_TRACE` directory, one line per trace file.

After the first 8 s of each sender's window: stalls (gaps of 0.1-0.5 s
between frames the receiving page presented), freezes (gaps of 0.5 s or
more), frames shown a second, and the deltas of the receiver's own
counters over the same stretch (Chromium's freezeCount "fc", keyframes
decoded, NACKs and PLIs sent, frames dropped, FEC packets).

    python3 crates/bench/tools/stalls.py /tmp/trace
"""
import json, sys, glob, os
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.json'))):
    d = json.load(open(path))
    t = [f['t'] for f in d['frames']]
    if len(t) < 10:
        print(os.path.basename(path), 'no frames'); continue
    start = t[0] + 8000
    ts = [x for x in t if x >= start]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    stalls = sum(1 for g in gaps if 100 <= g < 500)
    freezes = [g for g in gaps if g >= 500]
    secs = (ts[-1] - ts[0]) / 1000
    st = [s for s in d['stats'] if s['t'] >= start]
    delta = lambda k: (st[-1][k] - st[0][k]) if st else float('nan')
    print(f"{os.path.basename(path):32} {secs:5.1f} s: stalls {stalls:3}, freezes {len(freezes)} ({sum(freezes)/1000:.1f} s), "
          f"fps shown {len(ts)/secs:4.1f}, fc {delta('freeze_count'):.0f}, keyframes {delta('keyframes_decoded'):.0f}, "
          f"nacks {delta('nacks'):.0f}, plis {delta('plis'):.0f}, dropped {delta('frames_dropped'):.0f}, fec {delta('fec'):.0f}")
