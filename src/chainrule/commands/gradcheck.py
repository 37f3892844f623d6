"""``chainrule gradcheck``: check every built-in op's backward against finite differences.

Runs the op-case table (``chainrule.op_cases.all_cases()``) through gradcheck in float64 with the
full Jacobian and prints one row per case: its name, the ops it covers, the largest
|analytical - numerical| over all Jacobian entries, and pass or FAIL. Exit status 1 if any case
fails. ``--include-seed-layer`` adds the seed author's hand-written layer, to watch it fail.

    chainrule gradcheck
    chainrule gradcheck --filter softmax
    chainrule gradcheck --json
"""

from __future__ import annotations

import json
import sys

import numpy as np

from . import CommandError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "gradcheck",
        help="check every op's derivative against finite differences",
        description="Check every built-in op's hand-written backward against central finite "
        "differences (float64, full Jacobian) and print the largest error per case.",
    )
    parser.add_argument("--filter", metavar="SUBSTRING", default="",
                        help="only cases whose name or op names contain SUBSTRING (case-insensitive)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--include-seed-layer", action="store_true",
                        help="also check the seed's hand-written sigmoid layer (known wrong: it "
                        "should FAIL, and does not change the exit status)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default 1e-3)")
    parser.set_defaults(run=run)


def _seed_layer_case():
    from .. import handwritten
    from ..op_cases import OpCase

    return OpCase(
        "seed's hand-written sigmoid layer (known wrong)",
        lambda lib, x, w, b: handwritten.SeedSigmoidLayer.apply(x, w, b),
        ((5, 2), (10, 2), (10,)),
        (handwritten.SeedSigmoidLayer,),
        grad_inputs=(1, 2),
    )


def check_case(case, atol: float = 1e-5, rtol: float = 1e-3) -> dict:
    """Run one op case through gradcheck; a dict with the name, ops, largest error and verdict."""
    import chainrule
    from ..gradcheck import check_gradients

    arrays = case.make_inputs()
    inputs = [chainrule.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]
    result = check_gradients(lambda *xs: case.fn(chainrule, *xs), inputs, eps=case.eps,
                             atol=atol, rtol=rtol)
    return {
        "name": case.name,
        "ops": [op.__name__ for op in case.covers],
        "max_abs_error": result.max_abs_error,
        "passed": result.ok,
        "expected_to_fail": bool(any(getattr(op, "known_wrong", False) for op in case.covers)),
        "message": "" if result.ok else result.message(),
    }


def _select(cases, pattern: str) -> list:
    pattern = pattern.lower()
    return [
        c for c in cases
        if pattern in c.name.lower() or any(pattern in op.__name__.lower() for op in c.covers)
    ]


def _verdict(row) -> str:
    if row["passed"]:
        return "pass" if not row["expected_to_fail"] else "pass (expected FAIL!)"
    return "FAIL (expected)" if row["expected_to_fail"] else "FAIL"


def _print_table(rows, out) -> None:
    name_width = max(len("case"), *(len(r["name"]) for r in rows))
    ops_width = max(len("ops"), *(len(", ".join(r["ops"])) for r in rows))
    header = f"{'case':<{name_width}}  {'ops':<{ops_width}}  {'max |analytical - numerical|':>28}  result"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in rows:
        print(f"{r['name']:<{name_width}}  {', '.join(r['ops']):<{ops_width}}  "
              f"{r['max_abs_error']:>28.2e}  {_verdict(r)}", file=out)


def run(args) -> int:
    from ..op_cases import all_cases

    if not (np.isfinite(args.atol) and args.atol >= 0 and np.isfinite(args.rtol) and args.rtol >= 0):
        raise CommandError(f"--atol and --rtol must be numbers >= 0. Got {args.atol} and {args.rtol}.")
    cases = all_cases() + ([_seed_layer_case()] if args.include_seed_layer else [])
    cases = _select(cases, args.filter)
    if not cases:
        raise CommandError(f"no op case matches --filter {args.filter!r}; run without --filter to "
                           "see every case.")
    rows = [check_case(c, args.atol, args.rtol) for c in cases]
    unexpected = [r for r in rows if r["passed"] == r["expected_to_fail"]]
    failed = [r for r in rows if not r["passed"]]
    largest = max(r["max_abs_error"] for r in rows if not r["expected_to_fail"]) if any(
        not r["expected_to_fail"] for r in rows) else 0.0
    summary = (f"{len(rows)} cases: {len(rows) - len(failed)} passed, {len(failed)} failed"
               f"{' as expected' if failed and not unexpected else ''}; largest difference in the "
               f"built-in ops {largest:.2e} (atol {args.atol:g}, rtol {args.rtol:g})")
    if args.json:
        json.dump({"cases": rows, "passed": len(rows) - len(failed), "failed": len(failed),
                   "unexpected": len(unexpected), "atol": args.atol, "rtol": args.rtol},
                  sys.stdout, indent=2)
        print()
    else:
        _print_table(rows, sys.stdout)
        print(summary)
        for r in failed:
            print(f"\n{r['name']}: {r['message']}")
    return 1 if unexpected else 0
