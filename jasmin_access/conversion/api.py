"""``convert()``: NetCDF sources to one Zarr store, safely and resumably."""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import translating
from ..stores import Location, new_run_id, resolve
from .chunking import parse_chunks
from .chunkio import prime_encoders
from .execute import read_ahead, run_units
from .plan import (
    ConvertOptions,
    Plan,
    Unit,
    check_char_fill_values,
    prepare,
    write_template,
)
from .progress import Progress
from .runstate import save_scan
from .sources import close_all
from .verify import verify as run_verify
from .writer import (
    ALL_ROOT_KEYS,
    Journal,
    StoreTarget,
    check_destination,
    close_stores,
    coordinates_store,
    copy_metadata,
    coverage_of,
    finalize,
    inspect_store,
    remove_store,
    stored_bytes,
    write_marker,
)

__all__ = ["ConvertReport", "convert", "prepare"]

log = logging.getLogger(__name__)


@dataclass
class ConvertReport:
    """What a conversion did (``to_dict()`` is the ``--json`` summary)."""

    dest: str
    sources: int
    variables: list[str]
    chunks_total: int = 0
    chunks_written: int = 0
    chunks_skipped: int = 0
    bytes_uncompressed: int = 0
    bytes_stored: int = 0
    seconds: float = 0.0
    resumed: bool = False
    verified: bool | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def throughput_mb_s(self) -> float:
        """Uncompressed MB/s written in this run."""
        return self.bytes_uncompressed / 1e6 / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out = asdict(self)
        out["throughput_mb_s"] = round(self.throughput_mb_s, 3)
        out["seconds"] = round(self.seconds, 3)
        return out


def _options(**kw: Any) -> ConvertOptions:
    attrs = kw.pop("attrs") or {}
    if not isinstance(attrs, Mapping):
        attrs = dict(a.split("=", 1) for a in attrs)
    return ConvertOptions(
        chunks=parse_chunks(kw.pop("chunks")),
        variables=list(kw.pop("variables")) if kw.get("variables") else None,
        drop_variables=list(kw.pop("drop_variables")) if kw.get("drop_variables") else None,
        attrs={str(k): str(v) for k, v in attrs.items()},
        **{k: v for k, v in kw.items() if k not in ("variables", "drop_variables")},
    )


def _root_attrs(plan: Plan, run_id: str) -> dict[str, Any]:
    attrs = dict(plan.inventory.groups[""].attrs)
    attrs.update(plan.options.attrs)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:]) if "jasmin-access" in sys.argv[0] else ""
    line = f"{now} jasmin-access {argv or 'convert (Python API)'}".rstrip()
    history = str(attrs.get("history", "")).rstrip("\n")
    attrs["history"] = f"{history}\n{line}" if history else line
    attrs["jasmin_access"] = {
        "converter_version": __version__,
        "created": now,
        "options": plan.options.to_dict(),
        "record_dim": plan.inventory.groups[""].record_dim,
        "time_variable": plan.inventory.groups[""].time_name,
        "sources": [
            {"name": r.url, "size": r.size, "mtime": r.mtime} for r in plan.inventory.sources
        ],
    }
    return attrs


def convert(
    sources: str | Path | Sequence[str | Path],
    dest: str,
    *,
    chunks: str | Mapping[str, int] | None = None,
    target_chunk_mb: float | None = None,
    zarr_format: int = 3,
    shard_mb: float | None = None,
    compressor: str = "zstd",
    compression_level: int | None = None,
    keep_bits: int | None = None,
    variables: Sequence[str] | None = None,
    drop_variables: Sequence[str] | None = None,
    concat_dim: str | None = None,
    time_variable: str | None = None,
    attrs: Mapping[str, str] | Sequence[str] | None = None,
    overwrite: bool = False,
    verify: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    fail_after_units: int | None = None,
) -> ConvertReport:
    """Convert NetCDF files into one Zarr store.

    Parameters
    ----------
    sources
        Paths, globs (expanded here, natural order), ``@list.txt`` files and
        ``s3://``/``https://`` URLs, concatenated along the record dimension.
    dest
        Destination URL or path of the store (any backend).
    chunks
        ``"dim=n,..."`` or a mapping; other dims follow the default rule
        (:mod:`jasmin_access.conversion.chunking`).
    target_chunk_mb
        Target uncompressed chunk size (default 16 MiB).
    zarr_format
        3 (default) or 2.
    shard_mb
        Zarr v3 shards of about this many MB along the record dimension.
    compressor, compression_level
        ``zstd`` (default, with byte shuffle), ``lz4``, ``zlib`` or ``none``.
    keep_bits
        Lossy: keep N mantissa bits of float data variables (recorded as the
        ``keep_bits`` attribute).
    variables, drop_variables
        Keep only / drop these variables (coordinates and bounds of kept
        variables are kept).
    concat_dim
        Record dimension (default: unlimited dim, else ``time_counter``/``time``).
    time_variable
        Variable along the record dimension that orders the files and whose
        steps are checked (default: the record coordinate when it has CF time
        units, else a CF time coordinate along it such as ``time_centered``;
        without one, files are joined in the order given).
    attrs
        Extra global attributes (mapping or ``key=value`` strings).
    overwrite
        Replace an existing store (made invisible first, then deleted).
    verify
        Read the store back and compare with the sources afterwards.
    workers, scheduler
        Parallelism: threads (default), ``"processes"`` or ``tcp://host:port``.
    progress
        Show a progress bar on stderr.
    profile, endpoint_url, anon
        How to reach ``s3://`` sources and destination.
    fail_after_units
        Test hook simulating a crash after N units.

    Returns
    -------
    ConvertReport

    Raises
    ------
    InvalidInput
        Bad or mismatched sources, before anything is written.
    AlreadyExists
        The destination is a store already (use ``overwrite`` or ``append``).

    Notes
    -----
    A datastore as ``dest`` (``s3://bucket/ds/run1@``, or the URL of an
    existing datastore) gets the converted store as one new version, built in
    a local staging directory and pushed (:mod:`jasmin_access.datastore.staging`).
    """
    params = dict(locals())
    started = time.monotonic()
    rkw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    found = _datastore_dest(dest, rkw)
    if found is not None:
        from ..datastore.staging import into_datastore

        def run(stage: str) -> ConvertReport:
            return convert(**{**params, "dest": stage, "profile": profile})

        return into_datastore(found, run, append=False, message=f"convert {sources}")  # type: ignore[no-any-return]
    options = _options(
        chunks=chunks,
        target_chunk_mb=target_chunk_mb,
        zarr_format=zarr_format,
        shard_mb=shard_mb,
        compressor=compressor,
        compression_level=compression_level,
        keep_bits=keep_bits,
        variables=variables,
        drop_variables=drop_variables,
        concat_dim=concat_dim,
        time_variable=time_variable,
        attrs=attrs,
    )
    try:
        loc = resolve(dest, write=True, **rkw)
        plan = prepare(sources, options, rkw, loc)
        if options.zarr_format == 3:
            check_char_fill_values(plan.inventory)
        report = _write(plan, loc, overwrite, progress, workers, scheduler, fail_after_units)
    finally:
        close_all()
        close_stores()
    report.seconds = time.monotonic() - started
    if verify:
        result = run_verify(sources, dest, workers=workers, scanned=plan.inventory,
                            **_verify_kwargs(options), **rkw)  # fmt: skip
        report.verified = result.ok
        report.differences = result.differences
    return report


def _datastore_dest(dest: str, rkw: dict[str, Any]) -> Any:
    """The datastore ``dest`` names, if it names one (see :mod:`jasmin_access.datastore`)."""
    from ..datastore.staging import datastore_dest

    return datastore_dest(dest, rkw)


def _verify_kwargs(options: ConvertOptions) -> dict[str, Any]:
    return {
        "variables": options.variables,
        "drop_variables": options.drop_variables,
        "concat_dim": options.concat_dim,
        "time_variable": options.time_variable,
    }


def _prepare_destination(
    plan: Plan, url: str, target: StoreTarget, template: Any, overwrite: bool
) -> tuple[bool, Journal, dict[str, bytes]]:
    """Check, clear or resume the destination; mark it ours; copy the array metadata.

    Returns whether the run resumes, its journal and the root metadata to write last.
    """
    state = inspect_store(target)
    resume = check_destination(state, url, plan.fingerprint, overwrite)
    journal = Journal(target, plan.fingerprint)
    if resume:
        journal.load()
    elif state.has_objects:
        remove_store(target)
    write_marker(target, plan.fingerprint)
    if not plan.inventory.cached:
        save_scan(target.fs, target.path, plan.inventory.key, plan.inventory)
    index = {v.array_path for v in plan.variables if v.is_index}
    root = copy_metadata(template, target, index)
    journal.flush()
    return resume, journal, root


def _with_coverage(plan: Plan, template: Any, target: StoreTarget) -> dict[str, bytes]:
    """The root metadata to write last, with the ACDD coverage of the values written.

    The extents (``geospatial_*``, ``time_coverage_*``) go into the global
    attributes and so into the consolidated metadata: a catalog or any reader
    of the metadata learns where and when the data is without reading an array.
    """
    import zarr

    fmt = plan.options.zarr_format
    group = zarr.open_group(template, mode="r+", zarr_format=fmt)
    time_name = plan.inventory.groups[""].time_name
    stored = coordinates_store(group, template, target, time_name)
    group.attrs.update(coverage_of(group, stored, time_name))
    zarr.consolidate_metadata(template, zarr_format=fmt)
    return {k: bytes(template._store_dict[k].to_bytes()) for k in ALL_ROOT_KEYS
            if k in template._store_dict}  # fmt: skip


def _write(
    plan: Plan,
    loc: Location,
    overwrite: bool,
    progress: bool,
    workers: int | None,
    scheduler: str | None,
    fail_after: int | None,
) -> ConvertReport:
    import zarr.storage

    run_id = new_run_id()
    target = StoreTarget.of(loc, run_id)
    template = zarr.storage.MemoryStore()
    write_template(plan, template, _root_attrs(plan, run_id))
    prime_encoders(target, template, [v.array_path for v in plan.variables])
    with (
        read_ahead(plan.units(), target, scheduler, workers) as ahead,
        translating("writing", loc.url, loc.profile_name),
    ):
        resume, journal, root = _prepare_destination(plan, loc.url, target, template, overwrite)
        report = ConvertReport(
            dest=loc.url,
            sources=len(plan.inventory.sources),
            variables=[v.array_path for v in plan.variables],
            chunks_total=plan.count_units(),
            resumed=resume,
        )
        units = list(plan.units(journal.done))
        report.chunks_skipped = report.chunks_total - len(units)
        # the dimension coordinates went in with the metadata: count their objects too,
        # so that this report and `du` agree on the chunks of the store
        report.chunks_total += plan.count_index_objects()
        report.chunks_written += plan.count_index_objects()
        bar = Progress(sum(u.nbytes for u in units), len(units), enabled=progress)

        def on_done(unit: Unit, nbytes: Any) -> None:
            journal.mark(unit)
            report.chunks_written += 1
            report.bytes_uncompressed += int(nbytes)
            bar.advance(int(nbytes))

        try:
            with bar:
                run_units(
                    units,
                    target,
                    on_done,
                    scheduler=scheduler,
                    workers=workers,
                    fail_after=fail_after,
                    ahead=ahead,
                )
        finally:
            journal.flush()
        root.update(_with_coverage(plan, template, target))
        finalize(target, root, plan.options.zarr_format)
        report.bytes_stored = stored_bytes(target)
    log.info("converted %d sources into %s", report.sources, loc.url)
    return report
