"""Overlay the loss curves of several `minigen train` run folders (their log.csv) in one chart.

    python benchmarks/plot_runs.py runs/ngram-names runs/mlp-names runs/lstm-names \
        --out docs/images/names_ladder_curves.png [--split test|train] [--title T]
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(run, split):
    with open(os.path.join(run, "log.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    return [int(r["step"]) for r in rows], [float(r["loss"]) for r in rows]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--split", default="train", choices=["train", "test"])
    p.add_argument("--title", default=None)
    p.add_argument("--ylabel", default="loss, nats per character")
    p.add_argument("--ylim", type=float, nargs=2)
    args = p.parse_args(argv)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for run in args.runs:
        steps, loss = read(run, args.split)
        if len(steps) == 1:
            ax.axhline(loss[0], ls="--", lw=1, label=os.path.basename(run.rstrip("/")))
        else:
            ax.plot(steps, loss, lw=1, label=os.path.basename(run.rstrip("/")))
    ax.set_xlabel("step")
    ax.set_ylabel(f"{args.split} {args.ylabel}")
    if args.ylim:
        ax.set_ylim(*args.ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if args.title:
        ax.set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
