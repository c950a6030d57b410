"""The media store under random histories: formats from uploads never become paths, and
retention never deletes the media the newest alert of a zone and type points to."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_bridge.vision.store import MediaStore

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

ZONES = st.sampled_from([None, "porch", "garden", "hall"])
TYPES = st.sampled_from(["person_detected", "fall_detected", "person_detected,fall_detected"])
ITEM = st.one_of(
    st.tuples(st.just("alert"), ZONES, TYPES, st.integers(1, 3000), st.floats(0, 10)),
    st.tuples(
        st.sampled_from(["upload", "snapshot", "conversation"]),
        ZONES,
        st.none(),
        st.integers(1, 3000),
        st.floats(0, 10),
    ),
)


@FUZZ
@given(history=st.lists(ITEM, min_size=1, max_size=30), max_bytes=st.integers(500, 8000))
def test_newest_alert_per_zone_and_type_survives_retention(
    tmp_path_factory, history: list[tuple[str, str | None, str | None, int, float]], max_bytes: int
) -> None:
    tmp = tmp_path_factory.mktemp("store")
    store = MediaStore(tmp, retention_days=2, max_bytes=max_bytes)
    now = time.time()
    newest: dict[tuple[str, str], tuple[float, str]] = {}
    for i, (kind, zone, types, size, age_days) in enumerate(history):
        created = now - age_days * 86400 + i * 1e-3
        record = store.add(
            kind, bytes(size), media_type="image", fmt="jpeg", zone=zone, event_type=types,
            created=created,
        )  # fmt: skip
        if kind == "alert":
            for alert_type in (types or "").split(","):
                key = (zone or "", alert_type)
                if key not in newest or created > newest[key][0]:
                    newest[key] = (created, record.media_id)
        store.enforce_retention(now)
        for _created, media_id in newest.values():  # what the published alerts point to
            kept = store.get(media_id)
            assert kept is not None, (kind, zone, types)
            assert store.read(kept)
    protected = {mid for _, mid in newest.values()}
    others = store.query(limit=1000)
    unprotected = sum(r.size for r in others if r.media_id not in protected)
    assert unprotected == 0 or store.total_bytes() <= max_bytes
    assert all(r.created >= now - 2 * 86400 or r.media_id in protected for r in others)
    store.close()


@FUZZ
@given(
    fmt=st.one_of(
        st.text(max_size=40),
        st.sampled_from(["../../../../tmp/x", "..", "/etc/passwd", "jpeg/../../x", "a\x00b"]),
    )
)
def test_a_format_from_an_upload_never_leaves_the_data_directory(
    tmp_path_factory, fmt: str
) -> None:
    tmp = tmp_path_factory.mktemp("store")
    store = MediaStore(tmp / "data", retention_days=1, max_bytes=1 << 20)
    record = store.add("upload", b"payload", media_type="video", fmt=fmt)
    path = (tmp / "data" / record.path).resolve()
    assert path.is_relative_to((tmp / "data" / "media").resolve())
    assert path.read_bytes() == b"payload"
    assert [p for p in tmp.rglob("*") if p.is_file() and "data" not in p.parts] == []
    store.close()
