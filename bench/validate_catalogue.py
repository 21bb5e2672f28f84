"""How long `ecampus validate` takes on a large catalogue: 25 courses of 40 items each.

Generates the courses in a temporary folder (lessons with Markdown bodies, body files and
quizzes of every question type), then times the validator in-process and as the CLI.

    python bench/validate_catalogue.py [--courses 25] [--items 40] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecampus.courses.loader import load_catalogue

LESSON = """\
## Sección {n}

Texto de la lección con **negritas**, [un enlace](https://example.org), una lista y una tabla:

- primer punto
- segundo punto

| a | b |
|---|---|
| 1 | 2 |
"""


def make_course(root: Path, index: int, items: int) -> None:
    folder = root / f"curso-{index:02d}"
    (folder / "lessons").mkdir(parents=True)
    lines = [
        f"id: curso-{index:02d}",
        f"title: Curso de prueba {index}",
        "language: es",
        "summary: Un curso generado para medir el validador.",
        "hours: 4",
        "modules:",
    ]
    per_module = 8
    for m in range(items // per_module):
        lines += [f"  - id: modulo-{m}", f"    title: Módulo {m}", "    items:"]
        for k in range(per_module):
            n = m * per_module + k
            if k == per_module - 1:
                lines += [
                    f"      - id: quiz-{n}", "        type: quiz", f"        title: Evaluación {n}",
                    "        questions:",
                    "          - {id: q1, type: single, prompt: ¿Uno?, options: [a, b, c], answer: b}",
                    "          - {id: q2, type: multiple, prompt: ¿Dos?, options: [a, b, c], answer: [a, c]}",
                    "          - {id: q3, type: true_false, prompt: ¿Tres?, answer: true}",
                    "          - {id: q4, type: text, prompt: ¿Cuatro?, answer: [IGM]}",
                    "          - {id: q5, type: number, prompt: ¿Cinco?, answer: 5, tolerance: 0}",
                ]  # fmt: skip
            elif k % 2:
                (folder / "lessons" / f"l{n}.md").write_text(LESSON.format(n=n) * 4)
                lines += [f"      - id: leccion-{n}", f"        title: Lección {n}",
                          "        minutes: 10", f"        body_file: lessons/l{n}.md"]  # fmt: skip
            else:
                body = "\n".join(
                    "          " + line for line in (LESSON.format(n=n) * 4).splitlines()
                )
                lines += [f"      - id: leccion-{n}", f"        title: Lección {n}",
                          "        minutes: 10", "        body: |", body]  # fmt: skip
    (folder / "course.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=25)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for index in range(args.courses):
            make_course(root, index, args.items)
        result = load_catalogue([root], render=False)
        assert not result.errors, [p.format() for p in result.errors[:5]]
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            load_catalogue([root], render=False)
            timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "ecampus.cli", "validate", str(root)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        cli_seconds = time.perf_counter() - start
        assert cli.returncode == 0, cli.stdout + cli.stderr
        print(f"{args.courses} courses x {args.items} items ({result.checked} checked)")
        print(f"validator, in process   median {statistics.median(timings):.3f} s (target 1 s)")
        print(f"ecampus validate (CLI)  {cli_seconds:.3f} s, interpreter start-up included")


if __name__ == "__main__":
    main()
