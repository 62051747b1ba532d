"""Running independent fits at once: here, on the machine's cores, or on a dask cluster.

:func:`run_tasks` calls one module-level function on a list of keyword sets (the fits
of :func:`mixedfit.fit_many`, the refits of :meth:`mixedfit.MixedResult.kfold`, the
replications of ``scripts/sbc.py``) and returns one :class:`Outcome` per task, in the
order of the tasks: the value, or the error that stopped it. Where the tasks run:

``client="sequential"``
    One after another in this process.
``client=None`` (the default): the machine's cores
    Each fit samples its ``chains`` chains in parallel threads (nutpie runs one native
    thread per chain, at most one per core), so a fit keeps ``threads_per_task =
    min(chains, cores)`` cores busy. The default runs ``slots = cores //
    threads_per_task`` fits at once, so that ``slots x threads_per_task <= cores``:
    when that is 2 or more (and there are 2 or more tasks), on a
    ``distributed.LocalCluster`` of ``slots`` worker *processes* with one task slot
    each (``threads_per_worker=1``: the chains' threads are the fit's own, not dask's)
    and BLAS limited to one thread per worker (dask's default for its workers),
    started for the call and closed after it; otherwise (one fit fills the machine, a
    single task, or dask's ``distributed`` is not installed) sequentially, here.
    Starting the cluster costs about 2 s, and each worker pays mixedfit's first-fit
    warm-up once (about 5 s: importing it and loading the compiled kernel), so the
    cluster pays off from a few fits of some seconds each; for many tiny fits pass
    ``client="sequential"``. Processes rather than threads: the Python parts of a
    fit (the design, the diagnostics) hold the GIL, and a process of its own gives
    each fit its own warnings and module state.
a ``distributed.Client``, or the address of a dask scheduler (``"tcp://host:8786"``)
    On that cluster, with the tasks' shared inputs (the data) sent to it once. Size its
    workers as above: each task uses ``threads_per_task`` cores by itself, so a worker
    should have ``threads_per_worker=1`` and about ``threads_per_task`` cores per
    worker process. PyMC's own sampler (``sampler="pymc"``) starts a process per
    chain, which a daemonic dask worker may not: start such workers with the dask
    setting ``distributed.worker.daemon: false`` (the local default does).

A task's result depends only on its inputs and seed, never on the worker that ran it:
the tasks are independent, each is seeded by its own inputs, and the outcomes are put
back in the order of the tasks whatever the order they finish in. (A script that uses
the local default must guard its top level with ``if __name__ == "__main__":``, as with
:mod:`multiprocessing`: the worker processes import the main module.)
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mixedfit.errors import InputTypeError, MixedFitError, MixedFitWarning, OptionError

__all__ = ["Outcome", "Executor", "run_tasks", "call", "chunks", "cpu_count",
           "threads_for_chains", "SEQUENTIAL"]

#: ``client=`` value that runs the tasks one after another in this process.
SEQUENTIAL = "sequential"


def cpu_count() -> int:
    """The cores this process may use (its CPU affinity where the system says).

    Examples
    --------
    >>> cpu_count() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_for_chains(chains: int) -> int:
    """The cores one fit keeps busy: nutpie samples the chains in parallel, one native
    thread per chain, at most one per core (PyMC's sampler: a process per chain, at most
    two).

    Examples
    --------
    >>> threads_for_chains(1)
    1
    """
    return max(1, min(int(chains), cpu_count()))


@dataclass
class Outcome:
    """What one task gave: its value, or the error that stopped it.

    Attributes
    ----------
    value : object
        The task's return value (None when it failed).
    error : str or None
        The error's message (a :class:`~mixedfit.errors.MixedFitError`'s own message;
        other errors prefixed with their type), None when the task succeeded.
    error_type : str or None
        The error's class name.
    exception : BaseException or None
        The exception itself, when it could travel back from the worker.
    warnings : list of (type, str)
        The warnings the task emitted, as (category, message).
    seconds : float
        How long the task ran.
    """

    value: Any = None
    error: str | None = None
    error_type: str | None = None
    exception: BaseException | None = None
    warnings: list[tuple[type, str]] = field(default_factory=list)
    seconds: float = float("nan")

    @property
    def ok(self) -> bool:
        """True when the task returned a value."""
        return self.error is None

    def result(self, what: str = "The task") -> Any:
        """The value; or the error raised again (``what`` names the task when the
        exception itself could not travel back).

        Examples
        --------
        >>> Outcome(value=3).result()
        3
        """
        if self.error is None:
            return self.value
        if self.exception is not None:
            raise self.exception
        raise MixedFitError(f"{what} failed: {self.error}")


def _message(err: BaseException) -> str:
    text = str(err).strip()
    if isinstance(err, MixedFitError):
        return text or type(err).__name__
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _travels(err: BaseException) -> BaseException | None:
    """The exception when it survives pickling (some exception classes do not)."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 - any failure means it stays behind
        return None
    return err


def call(func: Callable[..., Any], kwargs: Mapping[str, Any],
         shared: Mapping[str, Any] | None = None) -> Outcome:
    """Run ``func(**shared, **kwargs)`` and wrap what happens in an :class:`Outcome`.

    This is what runs on a worker: any ``Exception`` is caught (and recorded), and the
    warnings the task emits are recorded instead of being printed by the worker
    (mixedfit's own always, each time).

    Examples
    --------
    >>> from fractions import Fraction
    >>> call(Fraction, {"numerator": 6, "denominator": 4}).value
    Fraction(3, 2)
    >>> call(Fraction, {"numerator": 7, "denominator": 0}).error
    'ZeroDivisionError: Fraction(7, 0)'
    """
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MixedFitWarning)
        try:
            value = func(**(shared or {}), **kwargs)
        except Exception as err:  # noqa: BLE001 - recorded, the caller decides
            outcome = Outcome(error=_message(err), error_type=type(err).__name__,
                              exception=_travels(err))
        else:
            outcome = Outcome(value=value)
    outcome.warnings = [(w.category, str(w.message)) for w in caught]
    outcome.seconds = time.perf_counter() - start
    return outcome


class _Progress:
    """A counter on stderr: ``label: 3/10 done (1 failed)``."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        self.total, self.label, self.show = total, label, show
        self.done = self.failed = 0
        self._draw()

    def _draw(self) -> None:
        if not self.show:
            return
        failed = f" ({self.failed} failed)" if self.failed else ""
        end = "\n" if self.done == self.total else ""
        print(f"\r{self.label}: {self.done}/{self.total} done{failed}", end=end,
              file=sys.stderr, flush=True)

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += not outcome.ok
        self._draw()


def _show_progress(progressbar: bool | None) -> bool:
    """As :func:`mixedfit.fit`'s ``progressbar``: on in a terminal or notebook."""
    if progressbar is not None:
        return bool(progressbar)
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _is_client(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("submit", "scatter", "gather"))


class Executor:
    """Where a list of tasks runs (see the module's description); a context manager
    that closes what it started.

    Parameters
    ----------
    client : None, "sequential", distributed.Client or str
        ``None``: the local default; ``"sequential"``: here, one after another; a
        ``distributed.Client``; the address of a dask scheduler.
    threads_per_task : int, default 1
        Cores one task keeps busy by itself (a fit: :func:`threads_for_chains`).
    n_tasks : int, default 1
        How many tasks there are (the local default starts no more workers).

    Attributes
    ----------
    kind : {"sequential", "local", "client"}
        Which it is.
    slots : int
        How many tasks run at once.

    Examples
    --------
    >>> from fractions import Fraction
    >>> with Executor("sequential") as ex:
    ...     [str(o.value) for _, o in ex.map(Fraction, [{"numerator": 6, "denominator": 4},
    ...                                                 {"numerator": 1, "denominator": 3}])]
    ['3/2', '1/3']
    """

    def __init__(self, client: Any = None, *, threads_per_task: int = 1,
                 n_tasks: int = 1) -> None:
        self.threads_per_task = max(1, int(threads_per_task))
        self._client: Any = None
        self._owned: list[Any] = []  # what this executor started, closed by close()
        if isinstance(client, str) and client == SEQUENTIAL:
            self.kind, self.slots = "sequential", 1
        elif client is None:
            slots = min(cpu_count() // self.threads_per_task, int(n_tasks))
            if slots >= 2 and _distributed_available():
                self._client = self._start_local(slots)
                self.kind, self.slots = "local", slots
            else:
                self.kind, self.slots = "sequential", 1
        elif isinstance(client, str):
            self._client = self._connect(client)
            self.kind, self.slots = "client", self._cluster_slots()
        elif _is_client(client):
            self._client = client
            self.kind, self.slots = "client", self._cluster_slots()
        else:
            raise InputTypeError(
                f"client must be a distributed.Client, the address of a dask scheduler "
                f"('tcp://host:8786'), 'sequential' or None (the machine's cores), not "
                f"{type(client).__name__}.")

    def _start_local(self, slots: int) -> Any:
        # deferred: dask's distributed is optional and heavy, needed only here
        import dask
        from distributed import Client, LocalCluster

        # daemon: False lets PyMC's sampler start its processes in a worker
        try:
            with dask.config.set({"distributed.worker.daemon": False}):
                cluster = LocalCluster(n_workers=slots, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
        except Exception as err:  # noqa: BLE001 - explained, with the cause attached
            raise OptionError(
                f"Could not start a local dask cluster of {slots} worker processes "
                f"({type(err).__name__}: {err}). In a script, put the code that fits under "
                f"'if __name__ == \"__main__\":' (the worker processes import the main "
                f"module, as with multiprocessing); or pass client='sequential' to fit "
                f"here, one fit after another.") from err
        self._owned.append(cluster)
        try:
            client = Client(cluster)
        except Exception:
            self.close()
            raise
        self._owned.insert(0, client)
        return client

    def _connect(self, address: str) -> Any:
        try:
            from distributed import Client  # deferred: optional and heavy
        except ImportError as err:
            raise OptionError(f"client={address!r} needs dask's distributed: pip install "
                              f"'dask[distributed]' (or mixedfit[parallel]).") from err
        try:
            client = Client(address)
        except OSError as err:
            raise OptionError(f"Could not connect to the dask scheduler at {address!r} "
                              f"({type(err).__name__}: {err}).") from err
        self._owned.append(client)
        return client

    def _cluster_slots(self) -> int:
        try:
            return max(1, sum(self._client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a client-like object without nthreads()
            return 1

    # ------------------------------------------------------------------ running
    def map(self, func: Callable[..., Any], tasks: Sequence[Mapping[str, Any]], *,
            shared: Mapping[str, Any] | None = None,
            keys: Sequence[str] | None = None) -> Iterator[tuple[int, Outcome]]:
        """Run ``func(**shared, **task)`` for every task; yield ``(index, outcome)`` as
        each finishes (in the order of the tasks when sequential).

        ``shared`` holds the inputs common to every task (the data): on a cluster they
        are sent once, not once per task. ``func`` must be picklable (a module-level
        function) when the tasks run on a cluster.
        """
        if self._client is None:
            for i, task in enumerate(tasks):
                yield i, call(func, task, shared)
            return
        yield from self._map_cluster(func, tasks, shared or {}, keys)

    def _map_cluster(self, func: Callable[..., Any], tasks: Sequence[Mapping[str, Any]],
                     shared: Mapping[str, Any],
                     keys: Sequence[str] | None) -> Iterator[tuple[int, Outcome]]:
        from distributed import as_completed  # deferred: optional and heavy

        client = self._client
        stamp = f"{os.getpid()}-{time.time_ns()}"
        names = [f"mixedfit-{keys[i] if keys else i}-{i}-{stamp}" for i in range(len(tasks))]
        if _by_value(func):  # a script's function: it and its inputs travel by value
            import cloudpickle  # deferred: comes with distributed, needed only here

            remote = {name: client.scatter(cloudpickle.dumps(value), hash=False)
                      for name, value in shared.items()}
            futures = [client.submit(_call_by_value, cloudpickle.dumps((func, dict(task))),
                                     remote, pure=False, key=names[i])
                       for i, task in enumerate(tasks)]
        else:
            remote = {name: client.scatter(value, hash=False) for name, value in shared.items()}
            futures = [client.submit(call, func, dict(task), remote, pure=False, key=names[i])
                       for i, task in enumerate(tasks)]
        where = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                i = where[future.key]
                try:
                    outcome = future.result()
                except Exception as err:  # noqa: BLE001 - a worker died, a task was lost
                    outcome = Outcome(error=f"the worker running it failed: {_message(err)}",
                                      error_type=type(err).__name__)
                future.release()
                yield i, outcome
        finally:
            for future in futures:
                future.cancel()
            for future in remote.values():
                future.release()

    def close(self) -> None:
        """Close the client and the local cluster this executor started (a client
        passed in stays open)."""
        while self._owned:
            thing = self._owned.pop(0)
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._client = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Executor {self.kind}: {self.slots} task(s) at once, "
                f"{self.threads_per_task} thread(s) each>")


def _by_value(func: Callable[..., Any]) -> bool:
    """Whether ``func`` comes from a module the workers cannot import by name: a script
    run as ``__main__``, or one registered with cloudpickle to travel by value (a file
    loaded from its path, as ``scripts/sbc.py`` registers itself)."""
    module = getattr(func, "__module__", None) or ""
    if module == "__main__":
        return True
    try:
        import cloudpickle  # deferred: comes with distributed, needed only here
    except ImportError:
        return False
    return module in cloudpickle.list_registry_pickle_by_value()


def _call_by_value(payload: bytes, shared: Mapping[str, bytes]) -> Outcome:
    """:func:`call` of a function and inputs pickled by value (on the worker)."""
    func, kwargs = pickle.loads(payload)
    return call(func, kwargs, {name: pickle.loads(value) for name, value in shared.items()})


def _distributed_available() -> bool:
    try:
        import distributed  # noqa: F401 - deferred: optional and heavy, imported to check
    except ImportError:
        return False
    return True


def run_tasks(func: Callable[..., Any], tasks: Sequence[Mapping[str, Any]], *,
              client: Any = None, threads_per_task: int = 1,
              shared: Mapping[str, Any] | None = None, keys: Sequence[str] | None = None,
              progressbar: bool | None = None, label: str = "fits") -> list[Outcome]:
    """Run ``func(**shared, **task)`` for every task and return the outcomes in order.

    Parameters
    ----------
    func : callable
        A module-level function (picklable), e.g. :func:`mixedfit.fit`.
    tasks : sequence of dict
        The keyword arguments of each call.
    client : None, "sequential", distributed.Client, str or Executor
        Where they run (see :class:`Executor`; an open one is used as it is, and left
        open).
    threads_per_task : int, default 1
        Cores one call keeps busy by itself.
    shared : dict, optional
        Keyword arguments common to every call (sent once to a cluster).
    keys : sequence of str, optional
        A name per task, for the cluster's task keys.
    progressbar : bool, optional
        A counter of finished tasks on stderr; default: on in a terminal or notebook.
    label : str, default "fits"
        What the counter counts.

    Returns
    -------
    list of Outcome
        One per task, in the order of ``tasks``: the value or the error (a failing task
        does not stop the others).

    Examples
    --------
    >>> from fractions import Fraction
    >>> out = run_tasks(Fraction, [{"denominator": 2}, {"denominator": 0}],
    ...                 shared={"numerator": 7}, client="sequential", progressbar=False)
    >>> [str(o.value) for o in out], [o.ok for o in out]
    (['7/2', 'None'], [True, False])
    """
    outcomes: list[Outcome | None] = [None] * len(tasks)
    if not tasks:
        return []
    progress = _Progress(len(tasks), label, _show_progress(progressbar))
    if isinstance(client, Executor):  # already open: the caller closes it
        ex = client
    else:
        ex = Executor(client, threads_per_task=threads_per_task, n_tasks=len(tasks))
    try:
        for i, outcome in ex.map(func, tasks, shared=shared, keys=keys):
            outcomes[i] = outcome
            progress.update(outcome)
    finally:
        if ex is not client:
            ex.close()
    return [o for o in outcomes if o is not None]


def chunks(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` (at most ``n``) contiguous runs of nearly equal
    length.

    Examples
    --------
    >>> chunks(7, 3)
    [range(0, 3), range(3, 5), range(5, 7)]
    """
    parts = max(1, min(int(parts), n))
    out, start = [], 0
    for k in range(parts):
        size = n // parts + (1 if k < n % parts else 0)
        out.append(range(start, start + size))
        start += size
    return [r for r in out if len(r)]
