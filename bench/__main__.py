"""``python -m bench {cohort,batch,flags,validation,fhir,episodes} [...]``: run a benchmark and print a
Markdown table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="which", required=True)
    c = sub.add_parser("cohort", help="cohort statistics at scale")
    c.add_argument("--clients", type=int, default=1_000_000)
    c.add_argument("--naive-clients", type=int, default=5_000)
    c.add_argument("--categorical-ids", action="store_true")
    c.add_argument("--order", choices=["client", "measure", "shuffled"], default="client",
                   help="row order of the synthetic cohort (default: by client and date)")
    c.add_argument("--plain", action="store_true",
                   help="every call factorises and sorts on its own (no shared preparation)")
    v = sub.add_parser("validation", help="load_data at scale and the conflicting-duplicate check")
    v.add_argument("--clients", type=int, default=1_000_000)
    v.add_argument("--rows", type=int, default=1_000_000)
    v.add_argument("--pairs", type=int, default=100_000)
    sp = sub.add_parser("cohort-shared", help="cohort calls: shared preparation against plain path")
    sp.add_argument("--clients", type=int, default=200_000)
    sp.add_argument("--order", choices=["client", "measure", "shuffled"], default="shuffled")
    b = sub.add_parser("batch", help="batch rendering against a sequential papermill loop")
    b.add_argument("--clients", type=int, default=40)
    b.add_argument("--jobs", type=int, default=2)
    b.add_argument("--cli", action="store_true",
                   help="time the whole progress-kit batch command line on a demo clinic of "
                        "--clients clients (every active client + the cohort)")
    fl = sub.add_parser("flags", help="client_flags (decision layer) at scale")
    fl.add_argument("--clients", type=int, default=100_000)
    fl.add_argument("--naive-clients", type=int, default=2_000)
    fl.add_argument("--no-items", action="store_true", help="leave out the item table")
    cold = sub.add_parser("cold", help="one report and a clinic day from a cold command line")
    cold.add_argument("--clients", type=int, default=40)
    cold.add_argument("--day-clients", type=int, default=8)
    cold.add_argument("--repeat", type=int, default=3)
    cold.add_argument("--before", metavar="DIR",
                      help="a checkout of the code before round five, timed beside this one")
    ex = sub.add_parser("explore", help="explorer redraw time when the client or measure changes")
    ex.add_argument("--switches", type=int, default=12)
    sc = sub.add_parser("scale", help="cohort statistics on 10M clients from Parquet through Dask")
    sc.add_argument("--clients", type=int, default=10_000_000)
    sc.add_argument("--sample", type=int, default=1_000_000)
    sc.add_argument("--workers", type=int, default=2)
    sc.add_argument("--folder", help="where the Parquet files go (kept; reused when present)")
    ep = sub.add_parser("episodes", help="episodes of care against the same rows without them")
    ep.add_argument("--clients", type=int, default=200_000)
    ep.add_argument("--flag-clients", type=int, default=20_000)
    f = sub.add_parser("fhir", help="read_fhir on a bulk-export NDJSON file")
    f.add_argument("--observations", type=int, default=100_000)
    args = parser.parse_args()
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    if args.which == "cohort":
        from . import cohort

        res = cohort.run(args.clients, args.naive_clients, categorical_ids=args.categorical_ids,
                         order=args.order, shared=not args.plain)
        print(cohort.to_markdown(res))
    elif args.which == "flags":
        from . import flags

        res = flags.run(args.clients, args.naive_clients, with_items=not args.no_items)
        print(flags.to_markdown(res))
    elif args.which == "cohort-shared":
        from . import cohort

        res = cohort.shared_vs_plain(args.clients, args.order)
        print(cohort.shared_to_markdown(res))
    elif args.which == "cold":
        from . import cold

        res = cold.run(args.clients, args.day_clients, args.repeat, args.before)
        print(cold.to_markdown(res))
    elif args.which == "explore":
        from . import explore

        res = explore.run(args.switches)
        print(explore.to_markdown(res))
    elif args.which == "scale":
        from . import scale

        res = scale.run(args.clients, args.sample, args.workers, args.folder)
        print(scale.to_markdown(res))
    elif args.which == "fhir":
        from . import fhir

        res = fhir.run(args.observations)
        print(fhir.to_markdown(res))
    elif args.which == "episodes":
        from . import episodes

        res = episodes.run(args.clients, args.flag_clients)
        print(episodes.to_markdown(res))
    elif args.which == "validation":
        from . import validation

        res = validation.run(args.clients, args.rows, args.pairs)
        print(validation.to_markdown(res))
    else:
        from . import batch

        if args.cli:
            res = batch.run_cli(args.clients, args.jobs)
            print(batch.cli_to_markdown(res))
        else:
            res = batch.run(args.clients, args.jobs)
            print(batch.to_markdown(res))
    plain = "-plain" if getattr(args, "plain", False) else ""
    name = {"cohort": f"cohort-{getattr(args, 'order', '')}{plain}",
            "flags": f"flags-{getattr(args, 'clients', 0)}",
            "batch": "batch-cli" if getattr(args, "cli", False) else "batch"}.get(args.which, args.which)
    (out / f"{name}.json").write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
