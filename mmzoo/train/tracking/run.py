"""One run's records sent to the per-epoch CSV and to every chosen tracker: :class:`RunLogger`.

The engine (``fit``), ``fit_many``, the benchmark harness and fine-tuning all log through it:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLogger(Tracking(root=folder), "demo", local_dir=folder) as logger:  # no tracker: the CSV only
    ...     logger.start({"architecture": "late_fusion"})
    ...     logger.epoch({"epoch": 1, "train_loss": 0.7, "val_loss": 0.69, "train_time_s": 2.0, "eval_time_s": 0.5})
    >>> open(f"{folder}/epochs.csv").read().splitlines()[1]
    '1,0.7,0.69,2.0,0.5,2.5'

What it promises:

- **A tracker never stops training.** Opening a tracker (its package missing, its server unreachable) or any
  later call (a full disk) that fails gives one warning naming the tracker, what was not logged and the run,
  and that tracker is dropped for the rest of the run; training and the other trackers go on.
- **Only rank 0 logs** under ``torchrun``: on other ranks every method does nothing.
- **A resumed run continues its tracker runs.** The trackers' run ids and how many epochs each received are
  kept beside the checkpoint (``tracking.json`` in the run folder); resuming from a checkpoint reopens those runs
  and sends only the epochs they have not had (the checkpoint is written before an epoch is logged, so an epoch
  is never logged twice nor lost). A fresh run (no checkpoint history) always opens new tracker runs.
"""
from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mmzoo.train.distributed import rank_and_world
from mmzoo.train.tracking.base import Backend, RunInfo, scalars
from mmzoo.train.tracking.options import BACKENDS, Tracking, tracking_from
from mmzoo.utils.files import atomic_write_json, atomic_write_text

__all__ = ["CSV_NAME", "IDS_NAME", "RunLogger", "tracked_run"]

CSV_NAME = "epochs.csv"
IDS_NAME = "tracking.json"


class RunLogger:
    """The records of one run, fanned out to the CSV (``<local_dir>/epochs.csv``) and ``tracking.backends``.

    Args:
        tracking: which trackers and where (:class:`~mmzoo.train.tracking.options.Tracking`); None: the CSV only.
        name: the run's name (``tracking.run_name`` wins where set).
        local_dir: the folder of the CSV and of the tracker ids a resumed run reads back: the run folder where
            there is one; default ``<root>/<experiment>/<name>/``.
        config: added to the configuration the trainer logs at :meth:`start` (e.g. a benchmark row's identity).
    """

    def __init__(self, tracking: Tracking | None, name: str, local_dir: str | Path | None = None,
                 config: dict[str, Any] | None = None) -> None:
        self.tracking = tracking or Tracking()
        self.name = self.tracking.run_name or name
        root = Path(self.tracking.root)
        self.local_dir = Path(local_dir) if local_dir is not None else root / self.tracking.experiment / self.name
        self.extra_config = dict(config or {})
        self.enabled = rank_and_world()[0] == 0
        self.backends: dict[str, Backend] = {}
        self.logged: dict[str, int] = {}  # the last epoch each tracker has received
        self.rows: list[dict[str, Any]] = []
        self.started = self.closed = False
        self._local_failed = False
        self._cleanup = contextlib.ExitStack()

    # -- what trainers call ---------------------------------------------------------------------------------
    def start(self, config: dict[str, Any], history: Sequence[dict[str, Any]] = ()) -> None:
        """Open the trackers (continuing their runs when ``history``, a checkpoint's epochs, is not empty), log
        ``config`` and send each tracker the epochs of ``history`` it has not received."""
        if not self.enabled or self.started:
            return
        self.started = True
        saved = self._read_ids() if history else {}
        for name in self.tracking.backends:
            previous = saved.get(name, {})
            backend = self._open(name, previous.get("run_id"))
            if backend is not None:
                self.backends[name] = backend
                self.logged[name] = previous.get("epochs", 0) if backend.run_id == previous.get("run_id") else 0
        config = {**config, **self.extra_config}
        self._each("the configuration", lambda backend: backend.log_config(config))
        self.rows = [dict(record) for record in history]
        for record in self.rows:
            self._send_epoch(record)
        self._write_local()

    def epoch(self, record: dict[str, Any]) -> None:
        """One finished epoch's record (the engine's history record): appended to the CSV and sent to the
        trackers as scalars at step ``record["epoch"]``, with ``epoch_time_s`` (training + validation) added."""
        if not self.enabled:
            return
        record = dict(record)
        if "train_time_s" in record and "eval_time_s" in record:
            record["epoch_time_s"] = record["train_time_s"] + record["eval_time_s"]
        self.rows.append(record)
        self._send_epoch(record)
        self._write_local()

    def summary(self, values: dict[str, Any]) -> None:
        """Final numbers (the kept epoch's metrics, a benchmark row's columns); non-numbers are dropped."""
        numbers = scalars(values)
        self._each("the final numbers", lambda backend: backend.log_summary(numbers))

    def samples(self, samples: list) -> None:
        """Prediction samples (:func:`~mmzoo.train.tracking.samples.prediction_samples`)."""
        self._each("the prediction samples", lambda backend: backend.log_samples(samples))

    def folder(self, folder: str | Path, name: str = "weights") -> None:
        """``folder`` as an artifact, in the trackers that keep artifacts."""
        self._each(f"the folder {folder}", lambda backend: backend.log_folder(Path(folder), name))

    def close(self, ok: bool = True) -> None:
        """End every tracker run (``ok`` False marks them failed) and record how far each got."""
        if self.closed:
            return
        self.closed = True
        self._each("the end of the run", lambda backend: backend.close(ok))
        self._write_local()
        self._cleanup.close()

    def chain(self, on_epoch: Callable[[dict[str, Any]], None] | None) -> Callable[[dict[str, Any]], None]:
        """An ``on_epoch`` callback that logs the record, then calls ``on_epoch`` (if any)."""
        def both(record: dict[str, Any]) -> None:
            self.epoch(record)
            if on_epoch is not None:
                on_epoch(record)
        return both

    def scratch_folder(self) -> Path:
        """A temporary folder that lives until the run is closed (e.g. for weights logged as an artifact)."""
        return Path(self._cleanup.enter_context(tempfile.TemporaryDirectory(prefix="mmzoo-track-")))

    @property
    def active(self) -> bool:
        """Whether any tracker is still receiving this run."""
        return self.enabled and bool(self.backends)

    def has_artifacts(self) -> bool:
        """Whether a tracker of this run keeps artifacts (TensorBoard does not)."""
        return any(type(backend).log_folder is not Backend.log_folder for backend in self.backends.values())

    def __enter__(self) -> "RunLogger":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(ok=kind is None)

    # -- failure handling -----------------------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        warnings.warn(f"mmzoo: {message}; training goes on", RuntimeWarning, stacklevel=4)

    def _open(self, name: str, resume_id: str | None) -> Backend | None:
        spec = BACKENDS[name]
        module, _, attribute = spec.target.partition(":")
        attempts = [resume_id, None] if resume_id else [None]
        for attempt in attempts:  # a run that cannot be continued (its store was deleted) starts afresh
            try:
                backend = getattr(importlib.import_module(module), attribute)(
                    RunInfo(self.name, self.tracking.experiment, Path(self.tracking.root), attempt))
                return backend
            except ImportError as error:
                self._warn(f"--log {name} needs the {name} package ({error}): pip install 'mmzoo[{spec.extra}]'. "
                           f"Run {self.name!r} is not logged to {name}")
                return None
            except Exception as error:
                if attempt is None:
                    self._warn(f"could not open a {name} run ({type(error).__name__}: {error}); run {self.name!r} "
                               f"is not logged to {name}")
        return None

    def _call(self, name: str, what: str, action: Callable[[], None]) -> bool:
        """Run ``action`` on tracker ``name``; on any error warn once and drop the tracker."""
        try:
            action()
            return True
        except Exception as error:
            backend = self.backends.pop(name, None)
            self._warn(f"logging to {name} failed ({type(error).__name__}: {error}); {what} and the rest of run "
                       f"{self.name!r} are not logged to {name}")
            with contextlib.suppress(Exception):
                if backend is not None and what != "the end of the run":
                    backend.close(False)
            return False

    def _each(self, what: str, action: Callable[[Backend], None]) -> None:
        for name, backend in list(self.backends.items()):
            self._call(name, what, lambda: action(backend))

    def _send_epoch(self, record: dict[str, Any]) -> None:
        epoch = int(record["epoch"])
        metrics = {key: value for key, value in scalars(record).items() if key != "epoch"}
        for name, backend in list(self.backends.items()):
            if epoch > self.logged[name] and self._call(name, f"epoch {epoch}",
                                                        lambda: backend.log_epoch(epoch, metrics)):
                self.logged[name] = epoch

    # -- the local folder: the CSV and the tracker ids ------------------------------------------------------
    def _read_ids(self) -> dict[str, Any]:
        try:
            return json.loads((self.local_dir / IDS_NAME).read_text())
        except (OSError, ValueError):
            return {}

    def _write_local(self) -> None:
        if self._local_failed or not self.enabled:
            return
        try:
            self.local_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.local_dir / CSV_NAME, _csv_text(self.rows))
            if self.backends or self.logged:
                ids = {name: {"run_id": backend.run_id, "epochs": self.logged[name]}
                       for name, backend in self.backends.items()}
                atomic_write_json(self.local_dir / IDS_NAME, {**self._read_ids(), **ids})
        except OSError as error:
            self._local_failed = True
            self._warn(f"cannot write {self.local_dir / CSV_NAME} ({error}); the per-epoch CSV of run "
                       f"{self.name!r} is not kept, nor the tracker ids a resumed run would continue")


def _csv_text(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV, one column per key in order of first appearance (missing values left empty)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@contextlib.contextmanager
def tracked_run(log: "str | Sequence[str] | Tracking | RunLogger | None", *, name: str, config: dict[str, Any],
                history: Sequence[dict[str, Any]] = (), run_dir: str | Path | None = None,
                main: bool = True) -> Iterator[RunLogger]:
    """A started :class:`RunLogger` for a trainer: ``log`` itself when it is one (its owner closes it), else a
    new one for ``log`` (trackers by name, or a :class:`Tracking`) closed when the block ends (as failed if it
    raises). Without trackers and without ``run_dir`` nothing is written at all; nor where ``main`` is False
    (a rank other than 0)."""
    if isinstance(log, RunLogger):
        log.enabled = log.enabled and main
        log.start(config, history)
        yield log
        return
    tracking = tracking_from(log)
    logger = RunLogger(tracking, name, run_dir)
    # The trainer knows its rank (a process training alone under torchrun is its own rank 0).
    logger.enabled = main and (tracking is not None or run_dir is not None)
    with logger:
        logger.start(config, history)
        yield logger
