"""What users told us about answers (도움이 되었나요?) and which questions went unanswered."""
from __future__ import annotations

from bot.core.privacy import mask
from bot.infra.store import Migrations, Store


MIGRATIONS = Migrations("feedback")  # this feature's tables; bot.services lists the sets to apply


@MIGRATIONS("feedback_001")
def _schema(db) -> None:
    db["answer_feedback"].create({
        "id": int, "at": str, "user": str, "surface": str, "entry_id": str, "query": str, "helpful": int,
    }, pk="id")
    db["answer_feedback"].create_index(["entry_id"])
    db["answer_stats"].create({"day": str, "answered": int, "declined": int}, pk="day")


class Feedback:
    """Answer feedback and daily answer/decline counts."""

    def __init__(self, store: Store, clock):
        self.store = store
        self.clock = clock

    def record_answer(self, result) -> None:
        day = self.clock.now().date().isoformat()
        col = "answered" if result.answered else "declined"
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO answer_stats (day, answered, declined) VALUES (?, 0, 0) ON CONFLICT(day) DO NOTHING", [day])
            self.store.conn.execute(f"UPDATE answer_stats SET {col} = {col} + 1 WHERE day = ?", [day])

    def record_feedback(self, *, user: str, entry_id: str, query: str, helpful: bool, surface: str = "") -> None:
        with self.store.transaction():
            self.store.db.table("answer_feedback").insert({
                "at": self.clock.now().isoformat(), "user": user, "surface": surface, "entry_id": entry_id,
                "query": mask(query)[:1000], "helpful": int(helpful),  # stored for analysis: no personal data
            })

    def summary(self) -> dict:
        rows = self.store.conn.execute(
            "SELECT entry_id, SUM(helpful), COUNT(*) FROM answer_feedback GROUP BY entry_id").fetchall()
        return {r[0]: {"helpful": r[1], "total": r[2]} for r in rows}


def setup(services) -> None:
    services.feedback = Feedback(services.store, services.clock)
