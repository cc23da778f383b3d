"""Summarize py-spy's collapsed stacks (bench/national.py --profile): top frames by share.

python -m bench.flame DIR/first-worker0.txt [--top 40] [--match koppel]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def frame_name(frame: str) -> str:
    """``function (path/file.py:line)`` as ``function file.py``."""
    function, _, where = frame.partition(" (")
    return f"{function} {where.rsplit('/', 1)[-1].split(':')[0]}".strip()


def summarize(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Samples, inclusive samples per frame, own (leaf) samples per frame."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += samples
        own[frames[-1]] += samples
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only frames containing this text")
    args = parser.parse_args()
    for path in args.files:
        total, inclusive, own = summarize(path)
        print(f"== {path} ({total} samples)")
        for title, counter in (("inclusive", inclusive), ("own", own)):
            print(f"-- {title}")
            shown = [(k, v) for k, v in counter.most_common() if args.match in k][: args.top]
            for name, samples in shown:
                print(f"{100 * samples / max(total, 1):6.1f}%  {name}")


if __name__ == "__main__":
    main()
