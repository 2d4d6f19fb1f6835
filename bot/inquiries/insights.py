"""The helpdesk's numbers over a period: questions answered vs declined per day, deflection (questions
answered without an inquiry), 👍/👎 per entry, inquiries opened/closed per day, and by category the time to
first response and to completion against 처리여유기간. Plain queries over the tables the features own."""
from __future__ import annotations

from datetime import datetime, timedelta


def days_between(start: datetime, days: int) -> list[str]:
    return [(start + timedelta(days=n)).date().isoformat() for n in range(days)]


# What differs between the stores here: hours between two stored times, the two-argument minimum, and
# SQLite's index hint (by creation time, the period, not the category index the GROUP BY would tempt its
# planner into).
_DIALECT = {
    "sqlite": ("(julianday({0}) - julianday({1})) * 24", "MIN({0}, {1})", "inquiries INDEXED BY idx_inquiries_created_at"),
    "postgresql": ("EXTRACT(EPOCH FROM (({0})::timestamptz - ({1})::timestamptz)) / 3600", "LEAST({0}, {1})", "inquiries"),
}


def compute(store, now: datetime, days: int) -> dict:
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    since = start.isoformat(timespec="seconds")
    labels = days_between(start, days)
    conn = store.conn
    answers = {d: (a, n) for d, a, n in conn.execute(
        "SELECT day, answered, declined FROM answer_stats WHERE day >= ?", [labels[0]])}
    opened = dict(conn.execute("SELECT substr(created_at, 1, 10), COUNT(*) FROM inquiries WHERE created_at >= ? "
                               "GROUP BY 1", [since]).fetchall())
    closed = dict(conn.execute("SELECT substr(completed_at, 1, 10), COUNT(*) FROM inquiries WHERE completed_at >= ? "
                               "GROUP BY 1", [since]).fetchall())
    daily = [{"day": d, "answered": answers.get(d, (0, 0))[0], "declined": answers.get(d, (0, 0))[1],
              "opened": opened.get(d, 0), "closed": closed.get(d, 0)} for d in labels]
    answered = sum(r["answered"] for r in daily)
    declined = sum(r["declined"] for r in daily)
    filed = sum(r["opened"] for r in daily)
    feedback = [{"entry": e, "up": u or 0, "down": n or 0} for e, u, n in conn.execute(
        "SELECT entry_id, SUM(helpful), SUM(1 - helpful) FROM answer_feedback WHERE at >= ? GROUP BY entry_id "
        "ORDER BY SUM(1 - helpful) DESC, COUNT(*) DESC LIMIT 20", [since])]
    # per category in SQL (both dialects read the stored +09:00 offsets), merged by two levels below
    cats: dict[str, dict] = {}
    hours, least, table = _DIALECT[store.dialect]
    first = least.format("COALESCE(started_at, answered_at)", "COALESCE(answered_at, started_at)")
    for category, count, first_sum, first_n, done_sum, done_n, in_time in conn.execute(
            "SELECT category, COUNT(*), "
            f"SUM({hours.format(f'COALESCE({first}, created_at)', 'created_at')}), "
            "COUNT(COALESCE(started_at, answered_at)), "
            f"SUM({hours.format('completed_at', 'created_at')}), COUNT(completed_at), "
            "SUM(CASE WHEN completed_at IS NOT NULL AND due_at IS NOT NULL AND completed_at <= due_at THEN 1 ELSE 0 END) "
            f"FROM {table} WHERE created_at >= ? GROUP BY category", [since]):
        parts = category.split(" > ")
        name = " > ".join(parts[1:3] if len(parts) > 1 else parts)
        c = cats.setdefault(name, {"category": name, "count": 0, "first": 0.0, "first_n": 0, "done": 0.0,
                                   "done_n": 0, "in_time": 0})
        c["count"] += count
        c["first"] += first_sum or 0.0
        c["first_n"] += first_n
        c["done"] += done_sum or 0.0
        c["done_n"] += done_n
        c["in_time"] += in_time or 0
    by_category = [{"category": c["category"], "count": c["count"],
                    "first_hours": c["first"] / c["first_n"] if c["first_n"] else None,
                    "done_hours": c["done"] / c["done_n"] if c["done_n"] else None,
                    "in_time": c["in_time"] / c["done_n"] if c["done_n"] else None}
                   for c in sorted(cats.values(), key=lambda c: -c["count"])]
    return {"days": days, "daily": daily, "answered": answered, "declined": declined, "filed": filed,
            "deflection": answered / (answered + filed) if answered + filed else None,
            "feedback": feedback, "by_category": by_category}
