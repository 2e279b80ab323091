"""Two saves of one trainee's list at once both succeed, the last one winning: a PUT
replaces a list, so racing replaces are serialised on the trainee's row, never a 409."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from sqlmodel import Session, col, select

from placement import create_app
from placement.config import Settings
from placement.db import make_engine
from placement.models import Preference
from placement.services.accounts import issue_token
from tests import factories as f
from tests.conftest import Backend

API = "/api/v1"


def test_racing_replaces_of_one_list_all_succeed_and_one_wins(
    committed_backend: Backend, tmp_path: Path
) -> None:
    engine = make_engine(committed_backend.url, pool_size=12, max_overflow=0)
    try:
        with Session(engine, expire_on_commit=False) as session:
            rnd = f.round_(session, status="open", max_preferences=10)
            host = f.organisation(session)
            slots = [f.pk(f.slot(session, round=rnd, organisation=host)) for _ in range(6)]
            user = f.user(session, role="trainee")
            f.trainee(session, user_id=f.pk(user))
            token = issue_token(session=session, user=user, commit=False)
            session.commit()
            round_id = f.pk(rnd)
        settings = Settings.from_env(
            {
                "DATABASE_URL": committed_backend.url,
                "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
                "SECRET_KEY": "test-secret-key",
            }
        )
        app = create_app(settings, bind=engine)
        # Each racer saves a different order of the same six slots, several times over.
        lists = [slots[k:] + slots[:k] for k in range(6)]
        racers = len(lists)
        barrier = threading.Barrier(racers)
        statuses: list[int] = []
        lock = threading.Lock()

        def save(order: list[int]) -> None:
            client = app.test_client()
            barrier.wait()
            for _ in range(5):
                response = client.put(
                    f"{API}/rounds/{round_id}/preferences",
                    json={"slot_ids": order},
                    headers={"Authorization": f"Bearer {token}"},
                )
                with lock:
                    statuses.append(response.status_code)

        threads = [threading.Thread(target=save, args=(order,)) for order in lists]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert Counter(statuses) == {200: racers * 5}
        with Session(engine) as session:
            stored = session.exec(
                select(Preference.slot_id)
                .where(Preference.round_id == round_id)
                .order_by(col(Preference.rank))
            ).all()
        assert list(stored) in lists  # one whole list, never a mix of two
    finally:
        engine.dispose()
