"""What users told us about answers (도움이 되었나요?) and which questions went unanswered."""
from __future__ import annotations

from bot.core.privacy import mask
from bot.infra.store import Migrations, Store


MIGRATIONS = Migrations("feedback")  # this feature's tables; bot.services lists the sets to apply


@MIGRATIONS("feedback_001")
def _schema(db) -> None:
    # (plain SQL, the same tables sqlite-utils' create() made, so that PostgreSQL runs it too)
    db.execute("CREATE TABLE answer_feedback (id INTEGER PRIMARY KEY, at TEXT, user TEXT, surface TEXT,"
               " entry_id TEXT, query TEXT, helpful INTEGER)")
    db.execute("CREATE INDEX idx_answer_feedback_entry_id ON answer_feedback (entry_id)")
    db.execute("CREATE TABLE answer_stats (day TEXT PRIMARY KEY, answered INTEGER, declined INTEGER)")


@MIGRATIONS("feedback_002_declined")
def _declined(db) -> None:
    # the questions the bot declined, masked before they are written (the knowledge gaps of the console)
    db.execute("CREATE TABLE IF NOT EXISTS declined_questions (id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
               " query TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '')")
    db.execute("CREATE INDEX IF NOT EXISTS declined_questions_at ON declined_questions (at)")


KEEP_DAYS = 90


class Feedback:
    """Answer feedback, daily answer/decline counts and the declined questions (kept `keep_days`)."""

    def __init__(self, store: Store, clock, *, keep_days: int = KEEP_DAYS):
        self.store = store
        self.clock = clock
        self.keep_days = keep_days
        self._pruned: str | None = None

    def record_answer(self, result) -> None:
        now = self.clock.now()
        day = now.date().isoformat()
        col = "answered" if result.answered else "declined"
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO answer_stats (day, answered, declined) VALUES (?, 0, 0) ON CONFLICT(day) DO NOTHING", [day])
            self.store.conn.execute(f"UPDATE answer_stats SET {col} = {col} + 1 WHERE day = ?", [day])
            query = mask(getattr(result, "query", "") or "")[:500]
            # real questions only (not greetings, thanks, chit-chat or gibberish): the gaps to fill
            if not result.answered and query.strip() and getattr(result, "reason", "") in ("", "unknown"):
                self.store.conn.execute("INSERT INTO declined_questions (at, query, reason) VALUES (?,?,?)",
                                        [now.isoformat(timespec="seconds"), query, getattr(result, "reason", "") or ""])
        if self._pruned != day:  # once a day per process
            self._pruned = day
            self.prune_declined()

    def prune_declined(self) -> int:
        """Delete the declined questions older than `keep_days`."""
        from datetime import timedelta

        cutoff = (self.clock.now() - timedelta(days=self.keep_days)).isoformat(timespec="seconds")
        with self.store.transaction():
            return self.store.conn.execute("DELETE FROM declined_questions WHERE at < ?", [cutoff]).rowcount

    def record_feedback(self, *, user: str, entry_id: str, query: str, helpful: bool, surface: str = "") -> None:
        with self.store.transaction():
            self.store.conn.execute(  # stored for analysis: no personal data
                "INSERT INTO answer_feedback (at, user, surface, entry_id, query, helpful) VALUES (?,?,?,?,?,?)",
                [self.clock.now().isoformat(), user, surface, entry_id, mask(query)[:1000], int(helpful)])

    def summary(self) -> dict:
        rows = self.store.conn.execute(
            "SELECT entry_id, SUM(helpful), COUNT(*) FROM answer_feedback GROUP BY entry_id").fetchall()
        return {r[0]: {"helpful": r[1], "total": r[2]} for r in rows}


def setup(services) -> None:
    services.feedback = Feedback(services.store, services.clock, keep_days=services.settings.gaps_days)
