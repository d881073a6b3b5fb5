"""Verification: the same rows on both sides, proven in SQL, chunk by chunk.

Both sides compute, per chunk of the target key order, a row count and the sum of a 64-bit hash of
each row (``hash_record_extended`` over the row's values: on the source the mapping's expressions,
already cast to the target's types, on the target its columns). The chunks are the same key ranges
on both sides (their bounds are every ``chunk_rows``-th target key), so a chunk whose count or sum
differs holds the difference, and only those chunks are read row by row to name the keys.
Nothing of a table is held in memory but one chunk's hashes when it differs.

The credit check compares, per user, the balance the source holds with the sum of the target's
ledger, and each target account's cached balance with its ledger.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from django.apps import apps
from psycopg import sql

from deploy.dbmove.plan import TablePlan

CHUNK_ROWS = 10_000
LISTED_KEYS = 50


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a key and values over a FROM clause and an optional filter."""

    key: sql.Composable
    values: tuple[sql.Composable, ...]
    source: sql.Composable  # FROM ...
    filter: sql.Composable | None = None
    label: sql.Composable | None = None  # a source key to show beside the target key

    def relation(self, extra: sql.Composable | None = None) -> sql.Composable:
        conditions = [part for part in (self.filter, extra) if part is not None]
        if not conditions:
            return self.source
        return sql.SQL("{} WHERE {}").format(self.source, sql.SQL(" AND ").join(
            sql.SQL("({})").format(part) for part in conditions))

    def row_hash(self) -> sql.Composable:
        return sql.SQL("hash_record_extended(ROW({}), 0)").format(sql.SQL(", ").join((self.key, *self.values)))


@dataclass
class Difference:
    """Counts, and the first keys of each kind (a table never missing entirely fills memory)."""

    counts: dict[str, int] = field(default_factory=lambda: {"missing": 0, "extra": 0, "changed": 0})
    keys: dict[str, list[str]] = field(default_factory=lambda: {"missing": [], "extra": [], "changed": []})

    def add(self, kind: str, key: str) -> None:
        self.counts[kind] += 1
        if len(self.keys[kind]) < LISTED_KEYS:
            self.keys[kind].append(key)

    @property
    def count(self) -> int:
        return sum(self.counts.values())


@dataclass
class Comparison:
    name: str
    source_rows: int = 0
    target_rows: int = 0
    chunks: int = 0
    bad_chunks: int = 0
    difference: Difference = field(default_factory=Difference)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.difference.count == 0 and self.source_rows == self.target_rows


Chunks = dict[int, tuple[int, int]]
Ranges = tuple[sql.Composable | None, sql.Composable | None]


@dataclass(frozen=True)
class _Pair:
    source: psycopg.Connection
    target: psycopg.Connection
    sides: tuple[Side, Side]
    key_type: str
    chunk_rows: int

    def bounds(self, index: int, within: sql.Composable | None = None) -> list[str]:
        """Every chunk_rows-th key of one side, in the key's own order (as width_bucket needs its bounds: in
        the text's order integer keys would go 1, 101, 11, ... and the chunks' key ranges overlap), as text."""
        side, conn = self.sides[index], (self.source, self.target)[index]
        rows = conn.execute(sql.SQL("SELECT k::text FROM (SELECT {key} AS k, row_number() OVER (ORDER BY {key}) AS n "
                                    "{relation}) AS keys WHERE n % {chunk} = 1 ORDER BY n").format(
            key=side.key, relation=side.relation(within), chunk=sql.Literal(self.chunk_rows))).fetchall()
        conn.rollback()
        return [row[0] for row in rows]

    def array(self, bounds: list[str]) -> sql.Composable:
        return sql.SQL("CAST({} AS {}[])").format(sql.Literal(bounds), sql.SQL(self.key_type))

    def chunks(self, bounds: list[str], within: Ranges = (None, None)) -> tuple[Chunks, Chunks]:
        """Per chunk, (rows, sum of row hashes) on each side; both queries run at the same time."""

        def one(index: int) -> Chunks:
            side, conn = self.sides[index], (self.source, self.target)[index]
            # A handful of chunks: hashing them beats the sort of whole rows the planner picks otherwise
            # (it cannot know how few distinct chunk numbers there are).
            conn.execute("SET LOCAL enable_sort = off")
            # Compiling these expressions costs more than it saves: the work is in the hash functions (C
            # already), and each parallel worker compiles again (about 0.5 s of a million calls' 2.5 s).
            conn.execute("SET LOCAL jit = off")
            rows = conn.execute(sql.SQL("SELECT width_bucket({key}, {bounds}) AS chunk, count(*), sum({hash}) "
                                        "{relation} GROUP BY chunk").format(
                key=side.key, bounds=self.array(bounds), hash=side.row_hash(), relation=side.relation(within[index]))
            ).fetchall()
            conn.rollback()
            return {int(chunk): (int(count), int(total)) for chunk, count, total in rows}

        with ThreadPoolExecutor(max_workers=1) as pool:
            theirs = pool.submit(one, 0)
            ours = one(1)
            return theirs.result(), ours

    def key_range(self, index: int, bounds: list[str], chunk: int, within: sql.Composable | None
                  ) -> sql.Composable | None:
        """Chunk ``chunk`` (as width_bucket numbers them) as a key range, for an index range scan."""
        key = self.sides[index].key

        def bound(position: int) -> sql.Composable:
            return sql.SQL("CAST({} AS {})").format(sql.Literal(bounds[position]), sql.SQL(self.key_type))

        parts = [within] if within is not None else []
        if chunk >= 1:
            parts.append(sql.SQL("{} >= {}").format(key, bound(chunk - 1)))
        if chunk < len(bounds):
            parts.append(sql.SQL("{} < {}").format(key, bound(chunk)))
        return sql.SQL(" AND ").join(parts) if parts else None

    def rows(self, index: int, within: sql.Composable | None) -> dict[str, tuple[int, str | None]]:
        side, conn = self.sides[index], (self.source, self.target)[index]
        label = side.label if side.label is not None else sql.SQL("NULL")
        rows = conn.execute(sql.SQL("SELECT {key}::text, {hash}, {label}::text {relation}").format(
            key=side.key, hash=side.row_hash(), label=label, relation=side.relation(within))).fetchall()
        conn.rollback()
        return {key: (row_hash, shown) for key, row_hash, shown in rows}


def _diff_rows(pair: _Pair, ranges: Ranges, difference: Difference
               ) -> None:
    theirs, ours = pair.rows(0, ranges[0]), pair.rows(1, ranges[1])
    for key in sorted(theirs.keys() | ours.keys()):
        label = theirs[key][1] if key in theirs else None
        shown = f"{key} (source key {label})" if label and label != key else key
        if key not in ours:
            difference.add("missing", shown)
        elif key not in theirs:
            difference.add("extra", shown)
        elif theirs[key][0] != ours[key][0]:
            difference.add("changed", shown)


def _narrow(pair: _Pair, ranges: Ranges, counts: tuple[int, int],
            difference: Difference) -> None:
    """Name the keys that differ in a key range; a range too large to read at once (one side holds many
    rows the other lacks) is cut again at every chunk_rows-th key of its larger side."""
    if max(counts) <= 2 * pair.chunk_rows:
        _diff_rows(pair, ranges, difference)
        return
    larger = 0 if counts[0] >= counts[1] else 1
    bounds = pair.bounds(larger, ranges[larger])
    theirs, ours = pair.chunks(bounds, ranges)
    for chunk in sorted(theirs.keys() | ours.keys()):
        if theirs.get(chunk) != ours.get(chunk):
            sub = (pair.key_range(0, bounds, chunk, ranges[0]), pair.key_range(1, bounds, chunk, ranges[1]))
            _narrow(pair, sub, (theirs.get(chunk, (0, 0))[0], ours.get(chunk, (0, 0))[0]), difference)


def compare(name: str, source: psycopg.Connection, target: psycopg.Connection, sides: tuple[Side, Side],
            key_type: str, *, chunk_rows: int = CHUNK_ROWS) -> Comparison:
    """Compare the source side with the target side, chunk by chunk, and name the keys that differ."""
    started = time.monotonic()
    pair = _Pair(source, target, sides, key_type, chunk_rows)
    result = Comparison(name)
    bounds = pair.bounds(1)
    theirs, ours = pair.chunks(bounds)
    result.source_rows = sum(count for count, _ in theirs.values())
    result.target_rows = sum(count for count, _ in ours.values())
    result.chunks = len(theirs.keys() | ours.keys())
    for chunk in sorted(theirs.keys() | ours.keys()):
        if theirs.get(chunk) != ours.get(chunk):
            result.bad_chunks += 1
            ranges = (pair.key_range(0, bounds, chunk, None), pair.key_range(1, bounds, chunk, None))
            _narrow(pair, ranges, (theirs.get(chunk, (0, 0))[0], ours.get(chunk, (0, 0))[0]), result.difference)
    result.seconds = time.monotonic() - started
    return result


def _filter(plan: TablePlan) -> sql.Composable | None:
    return sql.SQL(plan.entry.filter) if plan.entry.filter else None


# Values that may be long go into the row hash as their own 64-bit hash: hashing the value where it lies
# spares copying it (a 100 kB summary, a transcript) into the ROW() first, about a quarter of a wide
# table's verify (measured on calls: 2.6-3.0 s against 3.8-4.0 s for 200,000 rows, one worker).
HASHED_TYPES = {"text": "hashtextextended", "jsonb": "jsonb_hash_extended"}


def _hashed(value: sql.Composable, type_name: str) -> sql.Composable:
    function = HASHED_TYPES.get(type_name)
    return value if function is None else sql.SQL("{}({}, 0)").format(sql.SQL(function), value)


def table_sides(plan: TablePlan) -> tuple[Side, Side]:
    stable = [column for column in plan.columns if column.stable and column.name != plan.pk]
    source = Side(key=plan.target_pk_expr(), values=tuple(_hashed(column.expr, column.type) for column in stable),
                  source=plan.from_clause(), filter=_filter(plan), label=plan.key_ref() if plan.pk_key else None)
    target = Side(key=sql.Identifier("t", plan.pk),
                  values=tuple(_hashed(sql.Identifier("t", column.name), column.type) for column in stable),
                  source=sql.SQL("FROM {} AS t").format(sql.Identifier(plan.table)))
    return source, target


def table_compare(source: psycopg.Connection, target: psycopg.Connection, plan: TablePlan, *,
                  chunk_rows: int = CHUNK_ROWS) -> Comparison:
    return compare(plan.name, source, target, table_sides(plan), plan.pk_type, chunk_rows=chunk_rows)


def balances_compare(source: psycopg.Connection, target: psycopg.Connection, accounts: TablePlan, *,
                     chunk_rows: int = CHUNK_ROWS) -> tuple[Comparison, list[str]]:
    """Per user: the source balance against the sum of the target ledger; and, on the target, accounts
    whose cached balance is not their ledger's sum (their user ids)."""
    by_name = {column.name: column for column in accounts.columns}
    account_table = sql.Identifier(accounts.table)
    entries = sql.Identifier(apps.get_model("users", "CreditLedgerEntry")._meta.db_table)
    ledger_sums = sql.SQL("FROM {} AS a LEFT JOIN (SELECT account_id, sum(amount) AS total FROM {} "
                          "GROUP BY account_id) AS l ON l.account_id = a.id").format(account_table, entries)
    theirs = Side(key=by_name["user_id"].expr, values=(by_name["balance"].expr,), source=accounts.from_clause(),
                  filter=_filter(accounts), label=accounts.key_ref())
    ours = Side(key=sql.SQL("a.user_id"), values=(sql.SQL("CAST(coalesce(l.total, 0) AS bigint)"),),
                source=ledger_sums)
    comparison = compare("credit balances (source balance = target ledger sum)", source, target,
                         (theirs, ours), by_name["user_id"].type, chunk_rows=chunk_rows)
    # A join and GROUP BY rather than the ledger_sums subquery: under ORDER BY ... LIMIT, and with a ledger
    # not analyzed yet, the planner re-read the aggregated subquery once per account (5.5 s for 10,000).
    drifted = target.execute(sql.SQL("SELECT a.user_id::text FROM {} AS a LEFT JOIN {} AS e ON e.account_id = a.id "
                                     "GROUP BY a.id HAVING a.balance <> coalesce(sum(e.amount), 0) "
                                     "ORDER BY a.user_id LIMIT {}").format(account_table, entries,
                                                                           sql.Literal(LISTED_KEYS))).fetchall()
    target.rollback()
    return comparison, [row[0] for row in drifted]


def totals(source: psycopg.Connection, target: psycopg.Connection, accounts: TablePlan) -> tuple[int, int]:
    """The sum of all balances on the source and of the whole ledger on the target."""
    balance = next(column for column in accounts.columns if column.name == "balance")
    row = source.execute(sql.SQL("SELECT coalesce(sum({}), 0) {}").format(
        balance.expr, Side(balance.expr, (), accounts.from_clause(), _filter(accounts)).relation())).fetchone()
    source.rollback()
    entries = sql.Identifier(apps.get_model("users", "CreditLedgerEntry")._meta.db_table)
    ours = target.execute(sql.SQL("SELECT coalesce(sum(amount), 0) FROM {}").format(entries)).fetchone()
    target.rollback()
    return int(row[0] if row else 0), int(ours[0] if ours else 0)

