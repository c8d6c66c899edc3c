"""``mmzoo evaluate MODEL FOLDER``: how a model's predictions compare with a folder's labels.

    mmzoo evaluate local-dir:my_model my_data --split val --plot confusion.png
    mmzoo evaluate local-dir:my_model my_data --json

Classification: accuracy, precision / recall / support per class and the confusion matrix (rows: true class,
columns: predicted), drawn into ``--plot``. Regression: the mean absolute and root-mean-square error per target.
"""
from __future__ import annotations

import argparse
import json

from mmzoo.cli.predict import add_model_and_folder, load_model
from mmzoo.pretrained.transforms import transforms_for
from mmzoo.train.predict import evaluation_report, plot_confusion, predict, select_split

__all__ = ["register", "format_report"]


def format_report(report: dict) -> str:
    """The report as the lines ``mmzoo evaluate`` prints."""
    if report["task"] == "values":
        lines = [f"samples {report['samples']}  mae {report['mae']:.4f}  rmse {report['rmse']:.4f}",
                 f"{'target':<16}{'mae':>10}{'rmse':>10}"]
        lines += [f"{name:<16}{v['mae']:>10.4f}{v['rmse']:>10.4f}" for name, v in report["per_target"].items()]
        return "\n".join(lines)
    classes = report["classes"]
    width = max(8, *(len(c) + 2 for c in classes))
    lines = [f"samples {report['samples']}  accuracy {report['accuracy']:.4f}",
             f"{'class':<{width}}{'precision':>10}{'recall':>10}{'support':>9}"]
    lines += [f"{name:<{width}}{v['precision']:>10.4f}{v['recall']:>10.4f}{v['support']:>9}"
              for name, v in report["per_class"].items()]
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(f"{c:>{width}}" for c in classes))
    lines += [f"{c:<{width}}" + "".join(f"{n:>{width}}" for n in row) for c, row in zip(classes, report["confusion"])]
    return "\n".join(lines)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    model = load_model(args.model, args.device)
    frames = transforms_for(model).read_folder(args.folder, labels=True)
    predictions = predict(model, frames, batch_size=args.batch_size, split=args.split)
    frames = select_split(frames, args.split)  # the same selection, for the labels
    report = evaluation_report(predictions, frames)
    if args.plot and report["task"] == "classification":
        plot_confusion(report, args.plot, title=f"{args.model}: accuracy {report['accuracy']:.3f}")
        report["plot"] = args.plot
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="accuracy and confusion matrix (or error per target) on a "
                                   "labelled own-data folder")
    add_model_and_folder(parser)
    parser.add_argument("--plot", help="draw the confusion matrix into this image file (classification)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=_cmd_evaluate)
