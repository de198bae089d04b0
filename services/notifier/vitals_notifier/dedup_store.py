"""Ids of alerts already published to SNS, in a SQL table that several replicas may share."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from vitals_common.alerts import ALERT_ID_LENGTH
from vitals_common.errors import StartupError

metadata = MetaData()

sent_alerts = Table(
    "sent_alerts",
    metadata,
    Column("alert_id", String(max(ALERT_ID_LENGTH, 64)), primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False, index=True),
    # "pending" from just before the SNS call until SNS accepted it, then "sent".
    Column("status", String(8), nullable=False, server_default="sent"),
)

PENDING = "pending"
SENT = "sent"


class DedupStore:
    """Records each alert id around its SNS call, so a redelivered or replayed alert is skipped.

    An id is stored as pending just before the SNS call and marked sent once SNS accepted it. A
    crash in between leaves it pending with the offset uncommitted. After the restart the notifier
    cannot know whether SNS got it, so the alert is sent again and flagged as a possible duplicate,
    because a lost alert is worse than a repeated one.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> "DedupStore":
        """Connect and create the table if needed; raise StartupError naming the URL (password masked)."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StartupError(f"invalid NOTIFIER_DEDUP_URL: {exc}") from exc
        shown = parsed.render_as_string(hide_password=True)
        if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StartupError(
                    f"cannot create the folder of dedup store {shown}: {exc.strerror}; set NOTIFIER_DEDUP_URL "
                    "to a writable path"
                ) from exc
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
            metadata.create_all(engine)
        except (SQLAlchemyError, ImportError) as exc:
            raise StartupError(f"dedup store {shown} is unusable: {exc.__class__.__name__}: {exc}") from exc
        return cls(engine)

    def contains(self, alert_id: str) -> bool:
        """True when SNS accepted this alert before."""
        return self.status(alert_id) == SENT

    def status(self, alert_id: str) -> str | None:
        """Return None (never seen), PENDING (a send was interrupted) or SENT."""
        query = select(sent_alerts.c.status).where(sent_alerts.c.alert_id == alert_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else row[0]

    def mark_pending(self, alert_id: str, at: datetime | None = None) -> None:
        """Store the id as pending unless it is already stored."""
        stamp = at or datetime.now(timezone.utc)
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(sent_alerts).values(alert_id=alert_id, sent_at=stamp, status=PENDING))
        except IntegrityError:
            pass

    def record(self, alert_id: str, sent_at: datetime | None = None) -> bool:
        """Store the id; return False when it was already there (another replica sent it too)."""
        stamp = sent_at or datetime.now(timezone.utc)
        with self.engine.begin() as connection:
            updated = connection.execute(
                update(sent_alerts)
                .where(sent_alerts.c.alert_id == alert_id, sent_alerts.c.status == PENDING)
                .values(status=SENT, sent_at=stamp)
            ).rowcount
            if updated:
                return True
            try:
                connection.execute(insert(sent_alerts).values(alert_id=alert_id, sent_at=stamp, status=SENT))
            except IntegrityError:
                return False
        return True

    def prune(self, retention: timedelta, now: datetime | None = None) -> int:
        """Delete ids recorded before now - retention; return how many were deleted."""
        cutoff = (now or datetime.now(timezone.utc)) - retention
        with self.engine.begin() as connection:
            result = connection.execute(delete(sent_alerts).where(sent_alerts.c.sent_at < cutoff))
        return int(result.rowcount or 0)

    def close(self) -> None:
        self.engine.dispose()
