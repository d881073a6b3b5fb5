"""What each step prints: the plan of a dry run, the per-table summary of a copy, a sync's counts
and lag, and a verification's findings."""

from __future__ import annotations

from deploy.dbmove.copier import TableResult
from deploy.dbmove.progress import table_text
from deploy.dbmove.services import CopyReport, DryRun, VerifyReport
from deploy.dbmove.sync import SyncReport
from deploy.dbmove.verify import Comparison


def dry_run_text(dry: DryRun) -> str:
    lines = []
    if dry.state is None:
        lines.append("Target: migrated and empty; a copy would start from the first row of each table.")
    else:
        lines.append(f"Target: holds a copy from {dry.state.source_label}; a copy would resume where it stopped.")
    if dry.to_install:
        lines.append("The copy would install on the source (removed by --teardown-source):")
        lines += [f"  - {item}" for item in dry.to_install]
    for plan in dry.plans:
        checkpoint = dry.checkpoints.get(plan.name)
        done = f", {checkpoint.rows:,} already copied" + (" (done)" if checkpoint.done else "") if checkpoint else ""
        lines.append("")
        lines.append(f"{plan.name} ({plan.table}) <- {plan.entry.source} "
                     f"({dry.source_rows[plan.name]:,} rows{done}), in {plan.source_key} order")
        if plan.entry.joins:
            lines += [f"  joined: {join.table} AS {join.alias} ON {join.on}" for join in plan.entry.joins]
        if plan.entry.filter:
            lines.append(f"  where: {plan.entry.filter}")
        width = max(len(column.name) for column in plan.columns)
        lines += [f"  {column.name.ljust(width)}  <- {column.described}" for column in plan.columns]
    lines.append("")
    lines.append("Each table's plain secondary indexes are dropped while it loads and rebuilt at its end, then the "
                 "table is analyzed; sequences are reset and the credit ledger rebuilt when the last table is done.")
    lines.append("Dry run: the mapping and every expression were checked on the source; nothing was written.")
    return "\n".join(lines)


def _copy_row(result: TableResult) -> list[object]:
    status = "done before" if result.skipped else "copied"
    resumed = f"resumed at {result.resumed_from:,}" if result.resumed_from is not None and not result.skipped else ""
    return [result.name, result.source, result.rows, result.total, round(result.seconds, 1), round(result.rate),
            result.batches, f"{status} {resumed}".strip()]


def copy_text(report: CopyReport) -> str:
    headers = ["table", "source", "rows now", "rows in total", "seconds", "rows/s", "batches", "status"]
    lines = [table_text(headers, [_copy_row(result) for result in report.tables])]
    rows = sum(result.rows for result in report.tables)
    lines.append(f"{rows:,} rows in {report.seconds:.1f} s ({rows / report.seconds if report.seconds else 0:,.0f} "
                 "rows/s).")
    if report.finished:
        lines.append(f"The copy is complete: sequences reset, {report.ledger_entries:,} ledger entries written. "
                     "Changes made on the source since the copy began are applied by --sync.")
    else:
        lines.append("Some tables are not copied yet: run again (with their --tables, or all) to finish.")
    return "\n".join(lines)


def sync_text(report: SyncReport) -> str:
    rows = [[table.name, table.read, table.written, table.deleted] for table in report.tables]
    lines = [table_text(["table", "changed rows read", "inserted or updated", "deleted"], rows)]
    snapshot = f"{report.snapshot_at:%Y-%m-%d %H:%M:%S} UTC" if report.snapshot_at else "-"
    lines.append(f"Ledger entries written: {report.ledger_entries:,}. Pass took {report.seconds:.1f} s.")
    lines.append(f"Lag: {report.lag_seconds:.1f} s (everything committed on the source before {snapshot} is on the "
                 f"target); {report.pending_changes:,} change(s) recorded since, for the next pass.")
    return "\n".join(lines)


def _comparison_row(result: Comparison) -> list[object]:
    counts = result.difference.counts
    return [result.name, result.source_rows, result.target_rows, result.chunks, result.bad_chunks, counts["missing"],
            counts["extra"], counts["changed"], round(result.seconds, 1), "ok" if result.clean else "DIFFERENT"]


def _listing(result: Comparison) -> list[str]:
    lines = []
    labels = {"missing": "missing on the target", "extra": "only on the target", "changed": "different"}
    for kind, label in labels.items():
        keys = result.difference.keys[kind]
        if keys:
            more = result.difference.counts[kind] - len(keys)
            lines.append(f"  {result.name}: {label}: {', '.join(keys)}" + (f" and {more:,} more" if more else ""))
    return lines


def verify_text(report: VerifyReport) -> str:
    headers = ["table", "source rows", "target rows", "chunks", "differing chunks", "missing", "extra", "changed",
               "seconds", "result"]
    comparisons = [*report.tables, *([report.balances] if report.balances else [])]
    lines = [table_text(headers, [_comparison_row(result) for result in comparisons])]
    if report.balances is not None:
        lines.append(f"Credits: source balances total {report.source_total:,}, target ledger total "
                     f"{report.ledger_total:,}.")
        if report.drifted_accounts:
            lines.append(f"  accounts whose balance is not their ledger's sum (user ids): "
                         f"{', '.join(report.drifted_accounts)}")
    for result in comparisons:
        lines += _listing(result)
    rate = report.rows / report.seconds if report.seconds else 0
    lines.append(f"Verified {report.rows:,} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s): "
                 + ("no differences." if not report.differences else f"{report.differences:,} difference(s)."))
    return "\n".join(lines)
