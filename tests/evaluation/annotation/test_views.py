"""evaluation.annotation.views: the blind queue page, who sees which page, a batch from a trace search,
trends and calibration."""

from __future__ import annotations

import random
import uuid

import pytest
from django.utils import timezone
from scipy import stats as scipy_stats

from audit.models import AuditAction, AuditEntry
from chat.models import Feedback, Trace
from evaluation.annotation import selectors as sel
from evaluation.models import (
    Annotation,
    AnnotationBatch,
    AnnotationItem,
    AnnotationTask,
)
from tests.factories import SCORES, annotate_all, batch_make, traces_make


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
    annotate_all(batch, annotators[0], {p: SCORES | {"factual": str(rng.randint(1, 5))} for p in range(1, 25)})
    frame = sel.annotation_frame()
    assert len(frame) == 24
    cal = sel.calibration(frame)
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


def _judged(annotator, n_good, n_bad):
    traces_make({"faq": n_good + n_bad})
    batch = batch_make(size=n_good + n_bad, overlap=0)
    items = list(batch.items.order_by("position"))
    scores = {}
    for i, item in enumerate(items):
        good = i < n_good
        item.bertscore = 0.45 + 0.01 * i if good else 0.05 + 0.01 * i
        item.save(update_fields=["bertscore"])
        scores[item.position] = SCORES | {"factual": "5" if good else "1"}
    annotate_all(batch, annotator, scores)
    return batch


def test_people_re_derive_the_bertscore_gate_and_an_ml_engineer_adopts_it_once(client, db, annotators, lead):
    from evaluation import bertscore
    from evaluation.models import GoldenDataset
    from evaluation.services import dataset_default
    from mangaconsole.roles import Role
    from tests.factories import make_user

    dataset_default()
    _judged(annotators[0], 12, 12)
    suggestion = sel.threshold_suggestion(sel.annotation_frame())
    assert suggestion["threshold"] == 0.45  # the lowest accepted score: every accepted passes, every rejected fails
    assert suggestion["judged_by"] == ["ann0"]
    client.force_login(lead)  # reads the page, may not change the gate
    page = client.get("/annotate/trends/").content.decode()
    assert f'data-testid="gate-in-force">{bertscore.gate():.2f}<' in page
    assert "judged by rule" in page  # the calibrated gate says it was not judged by people
    assert "judged by ann0" in page
    assert 'data-testid="gate-adopt"' not in page
    assert client.post("/annotate/trends/gate/").status_code == 403
    ml = make_user("ml", Role.ML_ENGINEER)
    client.force_login(ml)
    assert 'data-testid="gate-adopt"' in client.get("/annotate/trends/").content.decode()
    before = AuditEntry.objects.filter(action=AuditAction.THRESHOLDS_CHANGE).count()
    client.post("/annotate/trends/gate/")
    client.post("/annotate/trends/gate/")  # a double click changes and records nothing more
    assert GoldenDataset.objects.get(name="golden").thresholds["bertscore_min"] == 0.45
    entries = AuditEntry.objects.filter(action=AuditAction.THRESHOLDS_CHANGE)
    assert entries.count() == before + 1
    entry = entries.latest("sequence")
    assert entry.actor == "ml"
    assert entry.before["bertscore_min"] == bertscore.gate()
    assert "24 human-judged answers" in entry.reason
    assert "judged by ann0" in entry.reason
    assert "already matches" in client.get("/annotate/trends/").content.decode()


def test_too_little_human_judgement_adopts_nothing(client, db, annotators):
    from evaluation import bertscore
    from evaluation.models import GoldenDataset
    from evaluation.services import dataset_default
    from mangaconsole.roles import Role
    from tests.factories import make_user

    dataset_default()
    _judged(annotators[0], 4, 4)
    client.force_login(make_user("ml", Role.ML_ENGINEER))
    page = client.get("/annotate/trends/").content.decode()
    assert 'data-testid="gate-adopt"' not in page
    assert "needs 10 human-judged answers of each kind" in page
    response = client.post("/annotate/trends/gate/", follow=True)
    assert "not enough human judgement yet: 4 acceptable and 4 unacceptable" in response.content.decode()
    assert GoldenDataset.objects.get(name="golden").thresholds["bertscore_min"] == bertscore.gate()


def test_the_gate_card_shows_before_anyone_has_scored(client, db, lead):
    from evaluation import bertscore

    client.force_login(lead)
    page = client.get("/annotate/trends/").content.decode()
    assert "No item is scored yet" in page
    assert f'data-testid="gate-in-force">{bertscore.gate():.2f}<' in page
    assert "needs answers both above and below 4" in page
