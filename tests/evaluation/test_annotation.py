"""Weekly human evaluation: sampling, the queue, agreement, adjudication, the flywheel, the pages."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score

from audit.models import AuditAction, AuditEntry
from chat.models import Feedback, Trace
from evaluation import agreement
from evaluation import annotation as svc
from evaluation.models import (
    Annotation,
    AnnotationBatch,
    AnnotationItem,
    AnnotationReceipt,
    AnnotationTask,
    DatasetVersion,
    GoldenEntry,
    TrainingCandidate,
)
from mangaconsole.roles import Role
from tests.conftest import make_user

WEEK = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
INTENTS = {
    "recommendation": 120,
    "faq": 80,
    "order_tracking": 50,
    "product_question": 40,
    "chitchat": 9,
    "escalation": 1,
}


def traces_make(counts: dict[str, int] = INTENTS, *, start: datetime = WEEK, **extra) -> list[Trace]:
    rows = []
    i = 0
    for intent, n in counts.items():
        for _ in range(n):
            rows.append(
                Trace(
                    trace_id=uuid.uuid4(),
                    session_id=uuid.uuid4(),
                    intent=intent,
                    release=1,
                    user_text=f"question {i} about {intent}",
                    answer=f"answer {i}",
                    started_at=start + timedelta(minutes=7 * i),
                    guardrail_verdict="pass",
                    **extra,
                )
            )
            i += 1
    return Trace.objects.bulk_create(rows)


@pytest.fixture
def inline_metrics(settings):
    settings.ANNOTATION_METRICS_INLINE = True


@pytest.fixture
def annotators(db):
    return [make_user(f"ann{i}", Role.ANNOTATOR) for i in range(3)]


@pytest.fixture
def lead(db):
    return make_user("lead", Role.QUALITY_LEAD)


def batch_make(size=200, overlap=0.2, **kw) -> AnnotationBatch:
    return svc.batch_create(
        actor="system:test", start=WEEK, end=WEEK + timedelta(days=7), size=size, overlap_share=overlap, **kw
    )


SCORES = {"factual": "4", "helpful": "4", "tone": "5", "format": "4", "purchase": "yes", "comment": ""}


# ------------------------------------------------------------------------------------- sampling
def test_allocation_is_proportional_with_one_per_stratum_and_never_more_than_a_stratum_has():
    alloc = svc.stratified_allocation({"a": 600, "b": 300, "c": 90, "d": 10}, 200)
    assert sum(alloc.values()) == 200
    assert alloc == {"a": 120, "b": 60, "c": 18, "d": 2}
    assert svc.stratified_allocation({"a": 1000, "rare": 1}, 10) == {"a": 9, "rare": 1}
    # Largest remainder: 2.38 and 47.62 round to 2 and 48; asking for more than exists takes everything.
    assert svc.stratified_allocation({"a": 5, "b": 100}, 50) == {"a": 2, "b": 48}
    assert svc.stratified_allocation({"a": 3, "b": 4}, 50) == {"a": 3, "b": 4}
    assert svc.stratified_allocation({}, 10) == {}


def test_a_weekly_batch_samples_200_stratified_by_intent_with_a_fifth_scored_twice(db, inline_metrics):
    traces_make()
    traces_make({"faq": 30}, start=WEEK - timedelta(days=3))  # the week before: not sampled
    # An error turn is not a production response to score.
    Trace.objects.filter(pk__in=Trace.objects.filter(intent="chitchat").order_by("pk").values("pk")[:1]).update(
        error="boom"
    )
    batch = batch_make()
    assert batch.items.count() == 200
    assert batch.strata == {
        "recommendation": 80,
        "faq": 54,
        "order_tracking": 33,
        "product_question": 27,
        "chitchat": 5,
        "escalation": 1,
    }
    assert Counter(batch.items.values_list("intent", flat=True)) == batch.strata
    assert batch.items.filter(needed=2).count() == 40
    assert batch.tasks.count() == 240
    assert not batch.items.filter(trace__started_at__lt=WEEK).exists()
    assert not batch.items.filter(trace__error="boom").exists()
    entry = AuditEntry.objects.filter(action=AuditAction.ANNOTATION, target_type="evaluation.annotationbatch").last()
    assert entry.after["items"] == 200
    assert entry.after["overlap_items"] == 40

    # The second batch of the same week skips what the first took: 299 answers, 200 already in a batch.
    second = batch_make()
    assert second.items.count() == 99
    assert not set(second.items.values_list("trace_id", flat=True)) & set(
        batch.items.values_list("trace_id", flat=True)
    )


def test_the_beat_task_samples_last_week_once(db, settings, inline_metrics):
    traces_make()
    now = WEEK + timedelta(days=7, hours=2)
    first = svc.weekly_sample(now)
    assert first is not None
    assert first.period_start == WEEK
    assert first.items.count() == 200
    assert svc.weekly_sample(now + timedelta(hours=1)) is None  # idempotent per week
    assert AnnotationBatch.objects.count() == 1
    assert "annotation-weekly-sample" in settings.CELERY_BEAT_SCHEDULE


def test_an_empty_period_creates_nothing_and_says_so(db):
    with pytest.raises(svc.AnnotationError, match="No unannotated answers"):
        batch_make()
    assert AnnotationBatch.objects.count() == 0


def test_automated_metrics_carry_thumbs_escalation_and_bertscore_against_the_sources(
    db, inline_metrics, serving, django_capture_on_commit_callbacks
):
    from chat.models import KnowledgeChunk

    chunk = KnowledgeChunk.objects.filter(source="faq").first()
    t1, t2 = traces_make({"faq": 1, "escalation": 1})
    Trace.objects.filter(pk=t1.pk).update(
        citations=[{"key": chunk.document.key, "title": chunk.title, "source": "faq", "chunk_id": chunk.pk}],
        answer=chunk.text[:300],
    )
    Feedback.objects.create(
        session_id=t1.session_id, message_id=uuid.uuid4(), trace_id=t1.trace_id, value="up", created_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_make(size=2, overlap=0)
    by_intent = {i.intent: i for i in batch.items.all()}
    assert by_intent["faq"].thumbs == 1
    assert by_intent["escalation"].thumbs is None
    assert by_intent["escalation"].escalated
    assert by_intent["faq"].bertscore is not None
    assert by_intent["faq"].bertscore > 0.8
    assert by_intent["escalation"].bertscore is None  # no source to compare with
    batch.refresh_from_db()
    assert batch.metrics_done == 2


def test_a_real_celery_worker_computes_the_metrics_and_the_beat_task_samples(transactional_db, serving):
    import time

    from celery.contrib.testing.worker import start_worker

    from chat.models import KnowledgeChunk
    from evaluation.tasks import annotation_weekly_task
    from mangaconsole.celery import app

    chunks = list(KnowledgeChunk.objects.filter(source="faq")[:3])
    traces = traces_make({"faq": 3, "recommendation": 3})
    for trace, chunk in zip(traces, chunks, strict=False):
        Trace.objects.filter(pk=trace.pk).update(
            citations=[{"key": chunk.document.key, "title": chunk.title, "source": "faq", "chunk_id": chunk.pk}],
            answer=chunk.text[:200],
        )
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=20):
        batch = batch_make(size=6, overlap=0)  # the metrics task is queued on commit
        deadline = time.monotonic() + 120
        while True:
            batch.refresh_from_db()
            if batch.metrics_done == 6:
                break
            assert time.monotonic() < deadline, f"the worker computed {batch.metrics_done} of 6"
            time.sleep(0.3)
    scored = batch.items.exclude(bertscore=None)
    assert scored.count() == 3  # the three answers with sources; the others have nothing to compare with
    # The beat task's body, run as beat would call it, for the week after: nothing left to sample.
    assert annotation_weekly_task.apply().get() == "nothing to sample (or already sampled)"


# ----------------------------------------------------------------------------------------- queue
def test_each_annotator_gets_a_different_item_and_an_overlap_item_goes_to_two_people(db, annotators, inline_metrics):
    traces_make({"faq": 6})
    batch = batch_make(size=6, overlap=0.5)
    a, b, c = annotators
    ta = svc.task_next(a)
    tb = svc.task_next(b)
    assert ta.pk != tb.pk
    assert svc.task_next(a).pk == ta.pk  # a reload hands back the item a holds
    overlap_items = set(batch.items.filter(needed=2).values_list("pk", flat=True))
    handed: dict[int, list[int]] = {}
    for user in (a, b, c):
        while True:
            task = svc.task_next(user)
            if task is None:
                break
            handed.setdefault(task.item_id, []).append(user.pk)
            svc.task_submit(user, task.pk, SCORES)
    assert set(handed) == set(batch.items.values_list("pk", flat=True))
    for item_id, people in handed.items():
        assert len(people) == len(set(people))  # never twice to one person
        assert len(people) == (2 if item_id in overlap_items else 1)
    assert not batch.tasks.filter(done_at__isnull=True).exists()
    assert Annotation.objects.count() == 9
    assert svc.batch_strata(batch) == [{"intent": "faq", "scored": 6, "open": 0}]


def test_a_skipped_item_never_comes_back_to_that_annotator_but_goes_to_another(db, annotators):
    traces_make({"faq": 1})
    batch_make(size=1, overlap=0)
    a, b, _ = annotators
    task = svc.task_next(a)
    with pytest.raises(svc.AnnotationError, match="Say why"):
        svc.task_skip(a, task.pk, "  ")
    svc.task_skip(a, task.pk, "not English")
    assert svc.task_next(a) is None
    assert svc.task_next(b).pk == task.pk
    assert AnnotationReceipt.objects.get(annotator=a).skip_reason == "not English"


def test_a_lock_expires_when_the_annotator_walks_away(db, annotators, settings):
    traces_make({"faq": 1})
    batch_make(size=1, overlap=0)
    a, b, _ = annotators
    task = svc.task_next(a)
    assert svc.task_next(b) is None  # held
    AnnotationTask.objects.filter(pk=task.pk).update(lock_expires_at=timezone.now() - timedelta(seconds=1))
    taken = svc.task_next(b)
    assert taken.pk == task.pk
    with pytest.raises(svc.AnnotationError, match="went to another annotator"):
        svc.task_submit(a, task.pk, SCORES)
    assert svc.task_renew(a, task.pk) is None
    assert svc.task_renew(b, task.pk) is not None
    svc.task_submit(b, task.pk, SCORES)
    with pytest.raises(svc.AnnotationError, match="already scored"):
        svc.task_submit(b, task.pk, SCORES)


def test_bad_scores_are_refused_with_every_problem_named_and_nothing_saved(db, annotators):
    traces_make({"faq": 1})
    batch_make(size=1, overlap=0)
    a = annotators[0]
    task = svc.task_next(a)
    with pytest.raises(svc.AnnotationError) as err:
        svc.task_submit(a, task.pk, {"factual": "6", "helpful": "", "tone": "3", "format": "x", "flags": ["nope"]})
    assert set(err.value.errors) == {"factual", "helpful", "format", "purchase", "flags"}
    assert "got '6'" in err.value.errors["factual"]
    assert Annotation.objects.count() == 0
    assert AnnotationTask.objects.get(pk=task.pk).holder_id == a.pk  # still theirs


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_ten_annotators_pulling_at_once_never_share_a_single_annotation_item():
    from django.contrib.auth.models import Group

    Group.objects.get_or_create(name=Role.ANNOTATOR)
    people = [make_user(f"c{i}", Role.ANNOTATOR) for i in range(10)]
    traces_make({"faq": 150, "recommendation": 150})
    with override_settings(ANNOTATION_METRICS_INLINE=False, CELERY_TASK_ALWAYS_EAGER=False):
        from unittest import mock

        with mock.patch("evaluation.annotation._metrics_dispatch"):
            batch = batch_make(size=300, overlap=0.2)
    handed: list[tuple[int, int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)
    errors = []

    def work(user):
        from django.db import connection as conn

        try:
            barrier.wait()
            while True:
                task = svc.task_next(user)
                if task is None:
                    break
                with lock:
                    handed.append((task.item_id, task.pk, user.pk))
                svc.task_submit(user, task.pk, SCORES)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    by_item: dict[int, list[int]] = {}
    for item_id, _, user_id in handed:
        by_item.setdefault(item_id, []).append(user_id)
    needed = dict(batch.items.values_list("pk", "needed"))
    assert len(handed) == 360  # 240 single + 60 overlap × 2
    for item_id, users in by_item.items():
        assert len(users) == needed[item_id], item_id
        assert len(set(users)) == len(users)
    assert len({task_id for _, task_id, _ in handed}) == 360  # no task handed out twice
    assert len({u for _, _, u in handed}) == 10  # everyone got work


# ------------------------------------------------------------------------------------ agreement
def _score_pairs(batch, a, b, rng, *, noise=0.15):
    """a and b both score every overlap item; b agrees with a except for some noise."""
    first, second = [], []
    while True:
        task = svc.task_next(a)
        if task is None:
            break
        sa = {d: str(rng.randint(1, 5)) for d in svc.SCALES} | {"purchase": rng.choice(["yes", "no"])}
        svc.task_submit(a, task.pk, sa)
        item = AnnotationItem.objects.get(pk=task.item_id)
        if item.needed == 2:
            t2 = svc.task_next(b)
            assert t2.item_id == item.pk  # the overlap slot is next in line for b
            sb = {
                d: (v if rng.random() > noise else str(min(5, int(v) + rng.choice([1, 2]))))
                for d, v in sa.items()
                if d in svc.SCALES
            }
            sb["purchase"] = sa["purchase"] if rng.random() > noise else ("no" if sa["purchase"] == "yes" else "yes")
            svc.task_submit(b, t2.pk, sb)
            first.append(sa)
            second.append(sb)
    return first, second


def test_kappa_per_dimension_equals_scikit_learn_on_the_same_pairs(db, annotators):
    traces_make({"faq": 40, "recommendation": 40})
    batch = batch_make(size=80, overlap=0.5)
    a, b, _ = annotators
    first, second = _score_pairs(batch, a, b, random.Random(7))
    assert len(first) == 40
    result = svc.batch_agreement(batch)
    assert [(p["a"], p["b"], p["n"]) for p in result["pairs"]] == [("ann0", "ann1", 40)]
    for d in svc.SCALES:
        expected = cohen_kappa_score(
            [int(x[d]) for x in first], [int(x[d]) for x in second], labels=[1, 2, 3, 4, 5], weights="linear"
        )
        assert result["pairs"][0]["kappa"][d] == pytest.approx(expected, abs=1e-12)
        assert result["overall"][d]["kappa"] == pytest.approx(expected, abs=1e-12)
        assert result["overall"][d]["below"] == (expected < 0.7)
    expected = cohen_kappa_score([x["purchase"] for x in first], [x["purchase"] for x in second])
    assert result["overall"]["purchase"]["kappa"] == pytest.approx(expected, abs=1e-12)


def test_low_agreement_is_flagged_and_wide_disagreements_are_listed_for_adjudication(db, annotators, lead):
    traces_make({"faq": 20})
    batch = batch_make(size=20, overlap=1.0)
    a, b, _ = annotators
    rng = random.Random(3)
    for _ in range(20):
        ta = svc.task_next(a)
        svc.task_submit(a, ta.pk, SCORES)
        tb = svc.task_next(b)
        # b agrees on everything except tone, which b scores at random
        svc.task_submit(b, tb.pk, SCORES | {"tone": str(rng.randint(1, 5))})
    result = svc.batch_agreement(batch)
    assert result["overall"]["tone"]["below"]
    [row_a, row_b] = svc.batch_annotators(batch)
    assert (row_a["annotator"], row_a["scored"], row_a["means"]["tone"]) == ("ann0", 20, 5)
    assert row_b["scored"] == 20
    assert row_b["means"]["factual"] == 4
    [trend] = svc.agreement_by_batch()
    assert trend["overall"]["tone"]["kappa"] == result["overall"]["tone"]["kappa"]
    assert result["overall"]["factual"]["kappa"] is None  # both always said 4: kappa undefined, not 1
    rows = svc.batch_disagreements(batch)
    wide = [r for r in rows if "tone" in r["dims"]]
    assert wide
    assert all(abs(r["first"].tone - r["second"].tone) >= 2 for r in wide)
    assert wide[0]["suggested"]["factual"] == 4
    item = wide[0]["item"]
    svc.item_adjudicate(item=item, data=SCORES | {"tone": "2", "comment": "too casual"}, actor=lead)
    item.refresh_from_db()
    assert item.adjudicated["tone"] == 2
    assert item.adjudicated_by == "lead"
    row = next(r for r in svc.batch_items_scored(batch) if r["item"].pk == item.pk)
    assert row["final"]["tone"] == 2  # adjudication wins over the mean


def test_kappa_helpers_handle_edge_cases():
    assert agreement.kappa([], [], ordinal=True) is None
    assert agreement.kappa([3, 3], [3, 3], ordinal=True) is None
    assert agreement.kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], ordinal=True) == pytest.approx(1.0)
    assert agreement.spearman([1, 2], [1, 2]).rho is None
    xs, ys = [1, 2, 3, 4, 5, 2], [0.1, 0.3, 0.2, 0.9, 0.8, None]
    got = agreement.spearman(xs, ys)
    want = scipy_stats.spearmanr(xs[:5], ys[:5])
    assert got.n == 5
    assert got.rho == pytest.approx(want.statistic)
    assert got.p_value == pytest.approx(want.pvalue)


# ------------------------------------------------------------------------------------- flywheel
def _finish_with(batch, annotator, scores_by_position):
    while True:
        task = svc.task_next(annotator)
        if task is None:
            break
        pos = AnnotationItem.objects.get(pk=task.item_id).position
        svc.task_submit(annotator, task.pk, scores_by_position.get(pos, SCORES))


def test_a_low_scored_item_goes_into_the_next_golden_version_with_provenance_and_pii_redacted(
    db, annotators, lead, golden_small
):
    (bad, good) = traces_make({"faq": 1, "recommendation": 1})
    Trace.objects.filter(pk=bad.pk).update(user_text="Where is my order? mail me at jane.doe@example.com")
    earlier = Trace.objects.create(
        trace_id=uuid.uuid4(),
        session_id=bad.session_id,
        user_text="Hi, my phone is 415-555-0132",
        answer="Hello!",
        started_at=bad.started_at - timedelta(minutes=1),
    )
    Feedback.objects.create(
        session_id=good.session_id,
        message_id=uuid.uuid4(),
        trace_id=good.trace_id,
        value="up",
        created_at=timezone.now(),
    )
    batch = batch_make(size=2, overlap=0)
    assert not AnnotationItem.objects.filter(trace=earlier).exists()
    pos = {i.trace_id: i.position for i in batch.items.all()}
    low = SCORES | {"factual": "1", "helpful": "2", "comment": "Invented a tracking number"}
    high = SCORES | {"factual": "5", "helpful": "5"}
    item_bad = batch.items.get(trace=bad)
    with pytest.raises(svc.AnnotationError, match="Finish or close"):
        svc.items_to_golden(batch=batch, references={item_bad.pk: "x"}, actor=lead)
    _finish_with(batch, annotators[0], {pos[bad.pk]: low, pos[good.pk]: high})

    candidates = svc.flywheel_candidates(batch)
    assert [r["item"].pk for r in candidates["golden"]] == [item_bad.pk]
    assert [r["item"].trace_id for r in candidates["training"]] == [good.pk]

    versions_before = DatasetVersion.objects.count()
    with pytest.raises(svc.AnnotationError, match="reference answer"):
        svc.items_to_golden(batch=batch, references={item_bad.pk: " "}, actor=lead)
    assert DatasetVersion.objects.count() == versions_before  # nothing sent

    version = svc.items_to_golden(
        batch=batch, references={item_bad.pk: "Orders ship in 2 days; track it under Your Orders."}, actor=lead
    )
    assert version.number == golden_small.number + 1
    key = f"human-b{batch.pk}-i{item_bad.position}"
    assert version.added == [key]
    entry = version.entries.get(key=key)
    assert entry.category == "edge_case"
    assert "jane.doe@example.com" not in entry.query
    assert "<EMAIL_ADDRESS>" in entry.query
    assert entry.turns == ["Hi, my phone is <PHONE_NUMBER>"]
    assert "Invented a tracking number" in entry.rubric
    assert f"human eval batch {batch.pk} item {item_bad.position}: trace {bad.trace_id}" in entry.provenance
    assert "ann0" in entry.provenance
    # Every earlier entry is still in the new version.
    assert version.entry_count == golden_small.entry_count + 1
    item_bad.refresh_from_db()
    assert item_bad.sent_to == f"golden:{key}"
    assert svc.flywheel_candidates(batch)["golden"] == []  # not offered twice

    [candidate] = svc.items_to_training(batch=batch, item_ids=[batch.items.get(trace=good).pk], actor=lead)
    assert candidate.conversation[0] == {"role": "user", "text": good.user_text}
    assert TrainingCandidate.objects.count() == 1
    assert GoldenEntry.objects.filter(key=key).count() == 1


def test_training_candidates_are_redacted(db, annotators, lead):
    [t] = traces_make({"recommendation": 1})
    Trace.objects.filter(pk=t.pk).update(user_text="I'm bob@example.com, what should I read after Naruto?")
    Feedback.objects.create(
        session_id=t.session_id, message_id=uuid.uuid4(), trace_id=t.trace_id, value="up", created_at=timezone.now()
    )
    batch = batch_make(size=1, overlap=0)
    _finish_with(batch, annotators[0], {1: SCORES | {"factual": "5"}})
    [candidate] = svc.items_to_training(batch=batch, item_ids=[batch.items.get().pk], actor=lead)
    assert "bob@example.com" not in candidate.conversation[0]["text"]
    assert candidate.pii_found == ["EMAIL_ADDRESS"]


# ---------------------------------------------------------------------------------------- pages
def test_the_queue_page_is_blind_and_keeps_what_was_typed_on_a_bad_submit(client, db, annotators):
    traces_make({"faq": 1})
    Trace.objects.update(release=987654)
    batch_make(size=1, overlap=0)
    a = annotators[0]
    client.force_login(a)
    page = client.get("/annotate/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "answer 0" in body
    assert "question 0 about faq" in body
    assert "987654" not in body
    assert "release" not in body.lower().replace("released", "")
    task = AnnotationTask.objects.get()
    bad = client.post("/annotate/", {"task": task.pk, "factual": "3", "comment": "kept"})
    assert AnnotationBatch.objects.get().items.count() == 1
    assert bad.status_code == 400
    assert "Helpfulness: choose 1 to 5" in bad.content.decode()
    assert ">kept</textarea>" in bad.content.decode()
    renew = client.post(f"/annotate/{task.pk}/renew/")
    assert renew.status_code == 200
    assert renew.json()["held"] is True
    good = client.post("/annotate/", {"task": task.pk, **SCORES})
    assert good.status_code == 302
    assert client.post(f"/annotate/{task.pk}/renew/").status_code == 409  # scored: no longer held
    entry = AuditEntry.objects.filter(action=AuditAction.ANNOTATION, target_type="evaluation.annotation").get()
    assert entry.actor == "ann0"
    assert entry.after["factual"] == 4
    assert Annotation.objects.count() == 1
    assert "Nothing to score" in client.get("/annotate/").content.decode()


def test_roles_see_only_their_pages(client, db, annotators, lead):
    traces_make({"faq": 2})
    batch = batch_make(size=2, overlap=0)
    client.force_login(annotators[0])
    assert client.get(f"/annotate/batches/{batch.pk}/").status_code == 403  # annotators do not see others' scores
    client.force_login(lead)
    assert client.get("/annotate/").status_code == 403
    page = client.get(f"/annotate/batches/{batch.pk}/")
    assert page.status_code == 200
    assert "Items per intent" in page.content.decode()
    assert client.get("/annotate/trends/").status_code == 200
    csv_rows = client.get(f"/annotate/batches/{batch.pk}/scores.csv").content.decode().splitlines()
    assert csv_rows[0].startswith("item,trace_id,intent,release,annotator,factual")
    assert len(csv_rows) == 1  # nothing scored yet


def test_a_lead_makes_a_batch_from_a_trace_search(client, db, lead):
    traces_make({"faq": 10, "recommendation": 10})
    client.force_login(lead)
    search = client.get("/traces/", {"intent": "faq", "start": "2026-11-16T00:00"}).content.decode()
    assert 'data-testid="batch-from-search"' in search
    assert '<input type="hidden" name="intent" value="faq">' in search
    response = client.post(
        "/annotate/batches/from-traces/",
        {"intent": "faq", "start": "2026-11-16T00:00", "end": "2026-11-23T00:00", "size": "5", "overlap_share": "0.4"},
    )
    batch = AnnotationBatch.objects.get()
    assert response.status_code == 302
    assert response.url == f"/annotate/batches/{batch.pk}/"
    assert batch.source == "traces"
    assert batch.items.count() == 5
    assert set(batch.items.values_list("intent", flat=True)) == {"faq"}
    assert batch.items.filter(needed=2).count() == 2
    bad = client.post("/annotate/batches/new/", {"week_start": "2020-01-06"}, follow=True)
    assert "No batch was created: No unannotated answers" in bad.content.decode()
    garbled = client.post("/annotate/batches/new/", {"week_start": "next monday"}, follow=True)
    assert "No batch was created: the first day must be a date, YYYY-MM-DD." in garbled.content.decode()
    assert AnnotationBatch.objects.count() == 1


def test_trends_and_calibration_use_the_same_responses(client, db, annotators, lead):
    traces = traces_make({"faq": 12, "recommendation": 12})
    batch = batch_make(size=24, overlap=0)
    rng = random.Random(5)
    for t in traces:
        Feedback.objects.create(
            session_id=t.session_id,
            message_id=uuid.uuid4(),
            trace_id=t.trace_id,
            value=rng.choice(["up", "down"]),
            created_at=timezone.now(),
        )
    AnnotationItem.objects.update(thumbs=None)
    for item in batch.items.all():
        item.thumbs = Feedback.objects.get(trace_id=item.trace.trace_id).value == "up" and 1 or -1
        item.bertscore = round(rng.random(), 3)
        item.save()
    _finish_with(batch, annotators[0], {p: SCORES | {"factual": str(rng.randint(1, 5))} for p in range(1, 25)})
    frame = svc.annotation_frame()
    assert len(frame) == 24
    cal = svc.calibration(frame)
    items = list(batch.items.order_by("position"))
    factual = [Annotation.objects.get(item=i).factual for i in items]
    want = scipy_stats.spearmanr(factual, [i.bertscore for i in items])
    assert cal[("factual", "bertscore")].rho == pytest.approx(want.statistic)
    assert cal[("factual", "bertscore")].n == 24
    client.force_login(lead)
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(client.get(f"/annotate/batches/{batch.pk}/scores.csv").content.decode())))
    assert len(rows) == 24
    first = next(r for r in rows if r["item"] == "1")
    assert int(first["factual"]) == factual[0]
    assert float(first["bertscore"]) == items[0].bertscore
    page = client.get("/annotate/trends/").content.decode()
    assert "Weekly mean human score by intent" in page
    assert 'data-testid="suggestion"' in page  # random scores: both accepted and rejected answers exist
    assert "Spearman" in page


def test_the_demo_command_asks_the_bot_real_questions_and_samples_a_batch(db, serving, golden_small, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.ANNOTATION_METRICS_INLINE = True
    out = StringIO()
    call_command("annotation_demo", turns=12, stdout=out)
    batch = AnnotationBatch.objects.get()
    assert batch.items.count() == 12
    assert Trace.objects.count() == 12
    assert all(item.trace.answer for item in batch.items.select_related("trace"))
    assert "12 real turns" in out.getvalue()
    call_command("annotation_demo", turns=12, stdout=out)  # an open batch: nothing more
    assert AnnotationBatch.objects.count() == 1


def test_the_suggested_gate_separates_what_annotators_accepted():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "bertscore": [0.95, 0.9, 0.85, 0.72, 0.7, 0.5, 0.4, 0.88, None],
            "factual": [5, 4, 5, 4, 2, 1, 2, 1, 5],
        }
    )
    got = svc.threshold_suggestion(frame)
    # accept at >= 0.72: 4 of 4 acceptable pass, 3 of 4 unacceptable fail (0.88 was scored 1)
    assert got["threshold"] == 0.72
    assert got["balanced_accuracy"] == 0.875
    assert (got["acceptable"], got["unacceptable"]) == (4, 4)
    assert svc.threshold_suggestion(frame[frame["factual"] >= 4]) is None
