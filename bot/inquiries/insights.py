"""The helpdesk's numbers over a period: questions answered vs declined per day, deflection (questions
answered without an inquiry), 👍/👎 per entry, inquiries opened/closed per day, and by category the time to
first response and to completion against 처리여유기간. Plain queries over the tables the features own."""
from __future__ import annotations

from datetime import datetime, timedelta


def _hours(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 3600


def days_between(start: datetime, days: int) -> list[str]:
    return [(start + timedelta(days=n)).date().isoformat() for n in range(days)]


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
    cats: dict[str, dict] = {}
    for category, created, started, answered_at, completed, due in conn.execute(
            "SELECT category, created_at, started_at, answered_at, completed_at, due_at FROM inquiries "
            "WHERE created_at >= ?", [since]):
        parts = category.split(" > ")
        name = " > ".join(parts[1:3] if len(parts) > 1 else parts)
        c = cats.setdefault(name, {"category": name, "count": 0, "first": [], "done": [], "in_time": 0, "closed": 0})
        c["count"] += 1
        first = min((t for t in (started, answered_at) if t), default=None)
        if (h := _hours(created, first)) is not None:
            c["first"].append(h)
        if completed:
            c["closed"] += 1
            if (h := _hours(created, completed)) is not None:
                c["done"].append(h)
            if due and completed <= due:
                c["in_time"] += 1
    by_category = []
    for c in sorted(cats.values(), key=lambda c: -c["count"]):
        by_category.append({"category": c["category"], "count": c["count"],
                            "first_hours": sum(c["first"]) / len(c["first"]) if c["first"] else None,
                            "done_hours": sum(c["done"]) / len(c["done"]) if c["done"] else None,
                            "in_time": c["in_time"] / c["closed"] if c["closed"] else None})
    return {"days": days, "daily": daily, "answered": answered, "declined": declined, "filed": filed,
            "deflection": answered / (answered + filed) if answered + filed else None,
            "feedback": feedback, "by_category": by_category}
