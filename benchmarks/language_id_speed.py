"""Time and labels of the data audit's language identifier on a microworld corpus.

Labels the first ``--docs`` documents of ``corpus.jsonl`` (a dialogue's turns joined) and
prints the time per document and the most common labels.

    python benchmarks/language_id_speed.py --corpus runs/demo/world/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from valign.data.language import LanguageDetector
from valign.data.lexicons import load_lexicons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/demo/world/corpus.jsonl"))
    parser.add_argument("--docs", type=int, default=20_000)
    args = parser.parse_args()
    docs = []
    with args.corpus.open(encoding="utf-8") as f:
        for _, line in zip(range(args.docs), f, strict=False):
            row = json.loads(line)
            docs.append(row.get("text") or "\n".join(m["content"] for m in row["messages"]))
    detector = LanguageDetector(load_lexicons().stopwords)
    detector.detect("load the model before timing")
    start = time.perf_counter()
    labels = Counter(detector.detect(d) for d in docs)
    seconds = time.perf_counter() - start
    chars = sum(map(len, docs)) / len(docs)
    print(
        f"{len(docs)} documents, {chars:.0f} characters on average: {seconds:.2f} s, "
        f"{1e6 * seconds / len(docs):.0f} us per document; labels {labels.most_common(5)}"
    )


if __name__ == "__main__":
    main()
