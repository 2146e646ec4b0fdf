"""evaluation.annotation.services: sampling a batch, the queue (claims, skips, locks, bad scores,
concurrency), automated metrics, and sending items to the golden set or to training."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from chat.models import Feedback, Trace
from evaluation import bertscore
from evaluation.annotation import rubric
from evaluation.annotation import selectors as sel
from evaluation.annotation import services as svc
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
from tests.factories import SCORES, WEEK, annotate_all, batch_make, make_user, traces_make


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
    with pytest.raises(rubric.AnnotationError, match="No unannotated answers"):
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
    assert by_intent["faq"].bertscore > bertscore.gate()  # the answer is a slice of its source
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
    assert sel.batch_strata(batch) == [{"intent": "faq", "scored": 6, "open": 0}]


def test_a_skipped_item_never_comes_back_to_that_annotator_but_goes_to_another(db, annotators):
    traces_make({"faq": 1})
    batch_make(size=1, overlap=0)
    a, b, _ = annotators
    task = svc.task_next(a)
    with pytest.raises(rubric.AnnotationError, match="Say why"):
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
    with pytest.raises(rubric.AnnotationError, match="went to another annotator"):
        svc.task_submit(a, task.pk, SCORES)
    assert svc.task_renew(a, task.pk) is None
    assert svc.task_renew(b, task.pk) is not None
    svc.task_submit(b, task.pk, SCORES)
    with pytest.raises(rubric.AnnotationError, match="already scored"):
        svc.task_submit(b, task.pk, SCORES)


def test_bad_scores_are_refused_with_every_problem_named_and_nothing_saved(db, annotators):
    traces_make({"faq": 1})
    batch_make(size=1, overlap=0)
    a = annotators[0]
    task = svc.task_next(a)
    with pytest.raises(rubric.AnnotationError) as err:
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

        with mock.patch("evaluation.annotation.services._metrics_dispatch"):
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
    with pytest.raises(rubric.AnnotationError, match="Finish or close"):
        svc.items_to_golden(batch=batch, references={item_bad.pk: "x"}, actor=lead)
    annotate_all(batch, annotators[0], {pos[bad.pk]: low, pos[good.pk]: high})

    candidates = sel.flywheel_candidates(batch)
    assert [r["item"].pk for r in candidates["golden"]] == [item_bad.pk]
    assert [r["item"].trace_id for r in candidates["training"]] == [good.pk]

    versions_before = DatasetVersion.objects.count()
    with pytest.raises(rubric.AnnotationError, match="reference answer"):
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
    assert sel.flywheel_candidates(batch)["golden"] == []  # not offered twice

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
    annotate_all(batch, annotators[0], {1: SCORES | {"factual": "5"}})
    [candidate] = svc.items_to_training(batch=batch, item_ids=[batch.items.get().pk], actor=lead)
    assert "bob@example.com" not in candidate.conversation[0]["text"]
    assert candidate.pii_found == ["EMAIL_ADDRESS"]
